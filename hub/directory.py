"""The station directory: stations, their Ed25519 keys, enrolment and revocation.

Every change is audited in the same transaction as the change itself (``hub.audit.append_audit``
on the write session's connection). ``version`` counts the changes made through this process,
so a key cache here (``hub.key_directory``) notices them at once; other replicas' changes reach
it by the cache's TTL.

Every key enrolment and revocation also bumps ``directory_sequence`` in that same transaction, so
the sequence number of the signed directory peers receive (``hub.published_directory``) is one
that every replica sharing the database agrees on, and a directory signed with sequence ``n``
holds exactly the keys as they were after change ``n`` (``snapshot``). Registering a station
changes no key and leaves the sequence alone.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.audit import AuditEntry, append_audit
from hub.db import Database
from hub.envelope_check import KnownKey
from hub.errors import HubStoreError, InvalidStationKey, UnknownKeyId, UnknownStation
from hub.models import DirectorySequence, Station, StationKey
from protos.envelope import InvalidKey, key_id_of, load_public_key, raw_public_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StationInfo:
    station_id: str
    province: str | None
    registered_at: datetime
    key_count: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    station_id: str
    added_at: datetime
    valid_from: datetime | None
    valid_until: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        """revoked / not yet valid / expired / valid, as of ``now``."""
        return key_status(self.valid_from, self.valid_until, self.revoked_at, now)


def key_status(
    valid_from: datetime | None, valid_until: datetime | None, revoked_at: datetime | None, now: datetime
) -> str:
    """revoked / not yet valid / expired / valid, as of ``now`` (a key here or in a peer's directory)."""
    if revoked_at is not None and revoked_at <= now:
        return "revoked"
    if valid_from is not None and now < valid_from:
        return "not yet valid"
    if valid_until is not None and now > valid_until:
        return "expired"
    return "valid"


@dataclass(frozen=True, slots=True)
class DirectorySnapshot:
    """Every station key as it was after change number ``sequence``."""

    sequence: int
    keys: dict[str, KnownKey]


@dataclass(frozen=True, slots=True)
class KeyEnrolment:
    key_id: str
    warnings: tuple[str, ...]  # what an operator should know (already expired, shared key)


class StationDirectory:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._version = 0
        self._version_lock = threading.Lock()

    @property
    def version(self) -> int:
        """Bumped on every key change made through this process."""
        return self._version

    def _bump(self) -> None:
        with self._version_lock:
            self._version += 1

    def register_station(self, station_id: str, province: str | None = None) -> None:
        """Add a station; registering one that exists changes nothing."""
        if not station_id or "/" in station_id:
            raise HubStoreError(f"station id {station_id!r} must be non-empty and contain no '/'")
        with self._database.write() as session:
            if session.get(Station, station_id) is not None:
                return
            now = datetime.now(UTC)
            session.add(Station(station_id=station_id, province=province, registered_at=now))
            session.flush()
            append_audit(
                session.connection(),
                [
                    AuditEntry(
                        "station_registered", f"province {province or '-'}", station_id=station_id, at=now
                    )
                ],
            )

    def enrol_station_key(
        self,
        station_id: str,
        pem_or_raw: bytes,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> KeyEnrolment:
        """Enrol a station's public key. Adding the same key again is a no-op.

        Allowed but warned about (logged, and returned for the CLI to print): a key already expired
        (records under it are accepted only within the hub's expiry grace, see
        ``hub.envelope_check``), and a public key another station holds (whoever has the private
        key can sign as either station).
        """
        try:
            public_key = load_public_key(pem_or_raw)
        except (InvalidKey, ValueError) as error:
            raise InvalidStationKey(f"key for station {station_id!r}: {error}") from error
        for name, value in (("valid_from", valid_from), ("valid_until", valid_until)):
            if value is not None and value.tzinfo is None:
                raise HubStoreError(f"{name} {value.isoformat()} has no time zone")
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            raise HubStoreError(f"valid_until {valid_until.isoformat()} is not after valid_from")
        key_id = key_id_of(station_id, public_key)
        raw = raw_public_key(public_key)
        warnings: list[str] = []
        with self._database.write() as session:
            if session.get(Station, station_id) is None:
                raise UnknownStation(station_id)
            if session.get(StationKey, key_id) is not None:
                return KeyEnrolment(key_id, ())
            now = datetime.now(UTC)
            if valid_until is not None and valid_until <= now:
                warnings.append(
                    f"key {key_id} is already expired (valid until {valid_until.isoformat()}): the hub "
                    "accepts records under it only within its expiry grace"
                )
            others = session.scalars(
                select(StationKey.station_id).where(
                    StationKey.public_key == raw, StationKey.station_id != station_id
                )
            ).all()
            for other in sorted(set(others)):
                warnings.append(
                    f"key {key_id}: the same public key is also enrolled for station {other!r}; "
                    "whoever holds its private key can sign for both"
                )
            _bump_sequence(session)
            session.add(
                StationKey(
                    key_id=key_id,
                    station_id=station_id,
                    public_key=raw,
                    added_at=now,
                    valid_from=valid_from,
                    valid_until=valid_until,
                )
            )
            session.flush()
            window = f"valid {valid_from.isoformat() if valid_from else '-'} .. "
            window += valid_until.isoformat() if valid_until else "-"
            append_audit(
                session.connection(),
                [AuditEntry("key_added", window, station_id=station_id, key_id=key_id, at=now)],
            )
        self._bump()
        for warning in warnings:
            log.warning("enrolling a key for station %s: %s", station_id, warning)
        return KeyEnrolment(key_id, tuple(warnings))

    def revoke_key(self, key_id: str, at: datetime | None = None) -> None:
        """Revoke from ``at`` (default now): records received from then on are rejected; records
        accepted before stay stored and verifiable."""
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise HubStoreError(f"revocation time {when.isoformat()} has no time zone")
        with self._database.write() as session:
            key = session.get(StationKey, key_id)
            if key is None:
                raise UnknownKeyId(key_id)
            key.revoked_at = when
            _bump_sequence(session)
            session.flush()
            append_audit(
                session.connection(),
                [
                    AuditEntry(
                        "key_revoked", f"from {when.isoformat()}", station_id=key.station_id, key_id=key_id
                    )
                ],
            )
        self._bump()

    def known_keys(self) -> dict[str, KnownKey]:
        with self._database.read() as session:
            return _known_keys(session)

    def sequence(self) -> int:
        """The number of key changes ever committed (shared by every replica on this database)."""
        with self._database.read() as session:
            return _read_sequence(session)

    def snapshot(self) -> DirectorySnapshot:
        """The keys and the sequence number they belong to, consistent with each other.

        PostgreSQL at READ COMMITTED gives each statement its own snapshot, so the sequence is
        read before and after the keys: equal readings mean no key change committed in between
        (each one bumps the sequence in its own transaction). Otherwise read again."""
        while True:
            with self._database.read() as session:
                before = _read_sequence(session)
                keys = _known_keys(session)
                after = _read_sequence(session)
            if before == after:
                return DirectorySnapshot(before, keys)

    def stations(self) -> list[StationInfo]:
        with self._database.read() as session:
            key_counts = dict(
                session.execute(
                    select(StationKey.station_id, func.count()).group_by(StationKey.station_id)
                ).all()
            )
            return [
                StationInfo(s.station_id, s.province, s.registered_at, int(key_counts.get(s.station_id, 0)))
                for s in session.scalars(select(Station).order_by(Station.station_id))
            ]

    def keys(self, station_id: str | None = None) -> list[KeyInfo]:
        query = select(StationKey).order_by(StationKey.station_id, StationKey.added_at)
        if station_id is not None:
            query = query.where(StationKey.station_id == station_id)
        with self._database.read() as session:
            return [
                KeyInfo(k.key_id, k.station_id, k.added_at, k.valid_from, k.valid_until, k.revoked_at)
                for k in session.scalars(query)
            ]

    def station_province(self, station_id: str) -> str | None:
        with self._database.read() as session:
            station = session.get(Station, station_id)
            if station is None:
                raise UnknownStation(station_id)
            return station.province


def _known_keys(session: Session) -> dict[str, KnownKey]:
    return {
        key.key_id: KnownKey(
            key_id=key.key_id,
            station_id=key.station_id,
            public_key=load_public_key(key.public_key),
            valid_from=key.valid_from,
            valid_until=key.valid_until,
            revoked_at=key.revoked_at,
        )
        for key in session.scalars(select(StationKey))
    }


def _read_sequence(session: Session) -> int:
    sequence = session.scalar(select(DirectorySequence.sequence).where(DirectorySequence.id == 1))
    if sequence is None:
        raise HubStoreError(
            "directory_sequence has no row 1: the schema was not built by `tongjian hub migrate`"
        )
    return int(sequence)


def _bump_sequence(session: Session) -> None:
    """In the caller's transaction; on PostgreSQL the row lock also orders concurrent key changes."""
    result = session.execute(
        update(DirectorySequence)
        .where(DirectorySequence.id == 1)
        .values(sequence=DirectorySequence.sequence + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise HubStoreError(
            "directory_sequence has no row 1: the schema was not built by `tongjian hub migrate`"
        )

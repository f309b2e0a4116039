"""Station directories between province hubs: this hub's, signed for its peers, and the peers',
verified and cached here.

A province hub (key id ``hub-<province>/<fingerprint>``, ``hub.trust_list.hub_signer``) signs
its station directory - every station key it ever enrolled, with validity
and revocation times, and the directory's sequence number - with its hub key
(``sign_directory``). Peers check it against the hub key the national trust list names for that
province (``read_directory``) and keep the newest one per province (``PeerDirectoryCache``). The
registration hub verifies a forwarded record's station signature against the inspecting
province's cached directory.

Revocation bound
----------------
- A revocation is in the directory the moment it commits: ``hub.directory`` bumps
  ``directory_sequence`` in the same transaction as every key enrolment and revocation, and
  ``sign_directory`` reads keys and sequence consistently, so the next directory signed (by any
  replica) carries it with a higher sequence.
- A directory is valid for ``ttl`` (default ``DEFAULT_TTL``, 15 minutes) from when it was signed,
  and a peer refuses one whose lifetime is longer than ``MAX_TTL``. A peer verifies only with a
  directory not past its ``valid_until`` (``PeerDirectoryCache.get`` raises
  ``PeerDirectoryExpired``; records wait, they are not rejected, until a fresh one arrives). So a
  revoked key stops verifying at every peer within ``ttl`` of the revocation (plus the clock
  difference between the hubs), even if every push of the new directory is lost; a push makes it
  sooner.
- Revoked keys stay listed with their ``revoked_at``: a record the inspecting hub received before
  the revocation still verifies. Judge it by the inspecting hub's trusted receive time, never by
  the station's clock: the key is good for the record if ``KnownKey.revoked_at`` is unset or later
  than ``received_at`` (``hub.envelope_check``, rule 4).

Which directory is newer: a higher sequence; at the same sequence, a later ``issued_at`` (the same
keys, re-signed to extend their validity). An older one offered is ignored and the cached one kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError
from sqlalchemy import select

from hub.db import Database, insert_ignoring_duplicates
from hub.directory import StationDirectory
from hub.envelope_check import KnownKey
from hub.errors import (
    DirectoryInvalid,
    DirectoryKeyMismatch,
    DirectorySignatureInvalid,
    DirectoryWrongProvince,
    HubConfigError,
    MalformedDirectory,
    NoPeerDirectory,
    PeerDirectoryExpired,
)
from hub.models import PeerDirectoryRow
from hub.trust_list import hub_signer
from protos.envelope import key_id_of, raw_public_key
from protos.signed_document import DocumentSignatureInvalid, sign_document, verify_document
from protos.tongjian.v1 import federation_pb2

__all__ = [
    "DEFAULT_TTL",
    "MAX_TTL",
    "CachedDirectory",
    "DirectoryInvalid",
    "DirectoryKeyMismatch",
    "DirectorySignatureInvalid",
    "DirectoryWrongProvince",
    "MalformedDirectory",
    "NoPeerDirectory",
    "PeerDirectoryCache",
    "PeerDirectoryExpired",
    "PeerStationDirectory",
    "read_directory",
    "sign_directory",
]

DEFAULT_TTL = timedelta(minutes=15)
# A peer refuses a directory meant to live longer than this, so a hub misconfigured with a long
# ttl cannot stretch how long its peers go on trusting a key it has revoked.
MAX_TTL = timedelta(hours=1)
# How far ahead of this hub's clock a peer's issued_at may be (the hubs' clocks differ a little).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PeerStationDirectory:
    """A verified station directory of one province (expiry not judged: see ``expired``)."""

    province: str
    sequence: int
    issued_at: datetime
    valid_until: datetime
    keys: Mapping[str, KnownKey]

    def expired(self, now: datetime) -> bool:
        return now > self.valid_until

    def newer_than(self, other: PeerStationDirectory) -> bool:
        return (self.sequence, self.issued_at) > (other.sequence, other.issued_at)


class CachedDirectory(NamedTuple):
    """What ``PeerDirectoryCache.all`` lists per province (unverified: for operators)."""

    province: str
    sequence: int
    issued_at: datetime
    valid_until: datetime


# ---------------------------------------------------------------- signing this hub's directory


def sign_directory(
    directory: StationDirectory,
    province: str,
    hub_key: Ed25519PrivateKey,
    signer: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> federation_pb2.SignedDocument:
    """This hub's station directory as it is now, signed: every key, revoked ones included."""
    if not timedelta(0) < ttl <= MAX_TTL:
        raise HubConfigError(
            f"directory ttl {ttl} must be more than 0 and at most {MAX_TTL} (peers refuse longer)"
        )
    if now.tzinfo is None:
        raise HubConfigError(f"directory time {now.isoformat()} has no time zone")
    if signer != hub_signer(province):
        # Peers accept a directory of province P only under key id hub-P/<fingerprint>.
        raise HubConfigError(
            f"a directory of province {province} is signed as {hub_signer(province)!r}, not {signer!r}"
        )
    snapshot = directory.snapshot()
    message = federation_pb2.StationDirectory(province=province, sequence=snapshot.sequence)
    message.issued_at.FromDatetime(now.astimezone(UTC))
    message.valid_until.FromDatetime((now + ttl).astimezone(UTC))
    for key_id in sorted(snapshot.keys):
        key = snapshot.keys[key_id]
        entry = message.keys.add(
            station_id=key.station_id, key_id=key.key_id, public_key=raw_public_key(key.public_key)
        )
        for field, value in (
            ("valid_from", key.valid_from),
            ("valid_until", key.valid_until),
            ("revoked_at", key.revoked_at),
        ):
            if value is not None:
                getattr(entry, field).FromDatetime(value.astimezone(UTC))
    return sign_document(message.SerializeToString(deterministic=True), signer, hub_key)


# ---------------------------------------------------------------- reading a peer's directory


def read_directory(
    document: federation_pb2.SignedDocument, hub_public_key: Ed25519PublicKey, province: str, now: datetime
) -> PeerStationDirectory:
    """A verified directory of ``province``; a ``DirectoryInvalid`` subclass naming what is wrong.

    Expiry is the caller's to judge (``PeerStationDirectory.expired``): an expired directory still
    says which keys a province had, for showing history."""
    what = f"station directory of province {province}"
    try:
        body = verify_document(document, hub_public_key, what, signer=hub_signer(province))
    except DocumentSignatureInvalid as error:
        raise DirectorySignatureInvalid(str(error)) from error
    try:
        message = federation_pb2.StationDirectory.FromString(body)
    except DecodeError as error:
        raise MalformedDirectory(f"{what}: the signed body is not a StationDirectory ({error})") from error
    if message.province != province:
        raise DirectoryWrongProvince(province, message.province)
    for field in ("issued_at", "valid_until"):
        if not message.HasField(field):
            raise MalformedDirectory(f"{what}, sequence {message.sequence}: no {field}")
    issued_at = _datetime(message.issued_at, what, "issued_at")
    valid_until = _datetime(message.valid_until, what, "valid_until")
    if not issued_at < valid_until <= issued_at + MAX_TTL:
        raise MalformedDirectory(
            f"{what}, sequence {message.sequence}: valid_until {valid_until.isoformat()} must be after "
            f"issued_at {issued_at.isoformat()} and at most {MAX_TTL} later"
        )
    if issued_at > now + CLOCK_SKEW:
        raise MalformedDirectory(
            f"{what}, sequence {message.sequence}: issued_at {issued_at.isoformat()} is in the future "
            f"(now {now.isoformat()}; the hubs' clocks differ by more than {CLOCK_SKEW}?)"
        )
    keys: dict[str, KnownKey] = {}
    for index, entry in enumerate(message.keys):
        key = _key_from_proto(province, index, entry)
        if key.key_id in keys:
            raise MalformedDirectory(f"{what}: key {key.key_id!r} is listed twice")
        keys[key.key_id] = key
    return PeerStationDirectory(
        province=province,
        sequence=message.sequence,
        issued_at=issued_at,
        valid_until=valid_until,
        keys=MappingProxyType(keys),
    )


def _datetime(timestamp: timestamp_pb2.Timestamp, what: str, field: str) -> datetime:
    try:
        return timestamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise MalformedDirectory(f"{what}: {field} is not a time ({error})") from error


def _key_from_proto(province: str, index: int, entry: federation_pb2.DirectoryKey) -> KnownKey:
    where = f"station directory of province {province}, key {index} ({entry.key_id!r})"
    if not entry.station_id or "/" in entry.station_id:
        raise MalformedDirectory(
            f"{where}: station id {entry.station_id!r} must be non-empty and contain no '/'"
        )
    if len(entry.public_key) != 32:
        raise MalformedDirectory(
            f"{where}: public key is {len(entry.public_key)} bytes, a raw Ed25519 key is 32"
        )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(entry.public_key)
    except ValueError as error:
        raise MalformedDirectory(f"{where}: not an Ed25519 public key ({error})") from error
    expected = key_id_of(entry.station_id, public_key)
    if entry.key_id != expected:
        raise DirectoryKeyMismatch(
            province,
            entry.key_id,
            f"the key id does not name station {entry.station_id!r}'s key {expected}",
        )
    times: dict[str, datetime | None] = {}
    for field in ("valid_from", "valid_until", "revoked_at"):
        times[field] = _datetime(getattr(entry, field), where, field) if entry.HasField(field) else None
    return KnownKey(
        key_id=entry.key_id,
        station_id=entry.station_id,
        public_key=public_key,
        valid_from=times["valid_from"],
        valid_until=times["valid_until"],
        revoked_at=times["revoked_at"],
    )


# ---------------------------------------------------------------- the peers' directories, cached


class PeerDirectoryCache:
    """The newest verified station directory of each peer province (table ``peer_directories``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def offer(
        self,
        province: str,
        document: federation_pb2.SignedDocument,
        hub_public_key: Ed25519PublicKey,
        now: datetime,
    ) -> PeerStationDirectory:
        """Verify ``document`` and keep it if it is newer than the cached one; returns the newest.

        Raises the ``DirectoryInvalid`` subclass if ``document`` does not verify, whatever is cached.
        A cached directory that no longer verifies (the province's hub key changed in the trust
        list) is replaced by any valid one."""
        offered = read_directory(document, hub_public_key, province, now)
        while True:
            with self._database.write() as session:
                row = session.get(PeerDirectoryRow, province, with_for_update=True)
                if row is not None:
                    cached = self._verified(row, hub_public_key, now)
                    if cached is not None and not offered.newer_than(cached):
                        return cached
                    row.sequence = offered.sequence
                    row.issued_at = offered.issued_at
                    row.valid_until = offered.valid_until
                    row.body = document.body
                    row.key_id = document.key_id
                    row.signature = document.signature
                    row.received_at = now
                    return offered
                inserted = session.execute(
                    insert_ignoring_duplicates(self._database.dialect, PeerDirectoryRow.__table__).values(  # type: ignore[arg-type]
                        province=province,
                        sequence=offered.sequence,
                        issued_at=offered.issued_at,
                        valid_until=offered.valid_until,
                        body=document.body,
                        key_id=document.key_id,
                        signature=document.signature,
                        received_at=now,
                    )
                )
                if inserted.rowcount == 1:  # type: ignore[attr-defined]
                    return offered
            # Another replica cached this province's first directory between our read and insert:
            # compare against it on the next pass.

    def get(self, province: str, hub_public_key: Ed25519PublicKey, now: datetime) -> PeerStationDirectory:
        """The cached directory, verified and not expired: the one to verify records with."""
        directory = self.get_any(province, hub_public_key, now)
        if directory.expired(now):
            raise PeerDirectoryExpired(province, directory.sequence, directory.valid_until, now)
        return directory

    def get_any(
        self, province: str, hub_public_key: Ed25519PublicKey, now: datetime | None = None
    ) -> PeerStationDirectory:
        """The cached directory, verified, even if expired (for showing history)."""
        with self._database.read() as session:
            row = session.get(PeerDirectoryRow, province)
            if row is None:
                raise NoPeerDirectory(province)
            document = _document_of(row)
        return read_directory(document, hub_public_key, province, now or datetime.now(UTC))

    def document(self, province: str) -> federation_pb2.SignedDocument:
        """The cached directory as signed, unchecked."""
        with self._database.read() as session:
            row = session.get(PeerDirectoryRow, province)
            if row is None:
                raise NoPeerDirectory(province)
            return _document_of(row)

    def all(self) -> list[CachedDirectory]:
        """Every cached directory, by province, as stored (not re-verified)."""
        with self._database.read() as session:
            return [
                CachedDirectory(row.province, row.sequence, row.issued_at, row.valid_until)
                for row in session.scalars(select(PeerDirectoryRow).order_by(PeerDirectoryRow.province))
            ]

    @staticmethod
    def _verified(
        row: PeerDirectoryRow, hub_public_key: Ed25519PublicKey, now: datetime
    ) -> PeerStationDirectory | None:
        try:
            return read_directory(_document_of(row), hub_public_key, row.province, now)
        except DirectoryInvalid:
            return None


def _document_of(row: PeerDirectoryRow) -> federation_pb2.SignedDocument:
    return federation_pb2.SignedDocument(body=row.body, key_id=row.key_id, signature=row.signature)

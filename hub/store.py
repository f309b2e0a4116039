"""The hub's storage: station directory, records as signed, and the hash-chained audit log.

SQLite (a file, WAL, busy timeout) by default, PostgreSQL by URL. Several stateless hub replicas
may share one PostgreSQL: duplicates are decided by the unique constraint on
(station_id, record_id), not by anything held in memory, and audit appends are serialised by
locking the chain-head row.

Dialect-specific SQL lives in one place, the ``_Dialect`` section below, with the SQLite
equivalent beside the PostgreSQL form.

SQLite transactions: reads start a deferred ``BEGIN`` (WAL readers never wait), writes start
``BEGIN IMMEDIATE`` so that a writer takes the write lock before it reads what it will change
(the chain head), and waits for it under the busy timeout instead of failing on lock upgrade.

Errors::

    HubStoreError
    ├── UnknownStation   a key for a station nobody registered
    ├── InvalidDatabaseUrl a URL that does not parse or names an unusable database or driver
    ├── SchemaNotCurrent the database is not at this hub's schema revision
    ├── UnknownKeyId     revoking a key id the directory does not hold
    └── InvalidStationKey key material that is not an Ed25519 public key
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session

from hub.envelope_check import KnownKey
from hub.models import AUDIT_GENESIS_HASH, AuditEvent, AuditHead, Record, Station, StationKey
from hub.record_integrity import (
    RECORD_STORED,
    StoredCheck,
    check_stored_record,
    digest_of_event_detail,
    stored_event_detail,
    stored_row_digest,
)
from protos.envelope import InvalidKey, key_id_of, load_public_key, raw_public_key

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "tongjian_hub_write"  # execution option: this connection writes (SQLite: BEGIN IMMEDIATE)


class HubStoreError(Exception):
    """The store was asked for something it cannot do; the message says what."""


class InvalidDatabaseUrl(HubStoreError):
    """A database URL that cannot be parsed, or names a database or driver the hub cannot use."""


class SchemaNotCurrent(HubStoreError):
    """The database is not at this hub's schema revision (not migrated, or migrated by a newer hub)."""


class UnknownStation(HubStoreError):
    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id!r} is not registered (register it first)")
        self.station_id = station_id


class UnknownKeyId(HubStoreError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"no station key with id {key_id!r}")
        self.key_id = key_id


class InvalidStationKey(HubStoreError):
    pass


class CommitOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # the same bytes were stored before
    ID_REUSED = "id_reused"  # the same (station, record id) was stored with other bytes


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
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.valid_from is not None and now < self.valid_from:
            return "not yet valid"
        if self.valid_until is not None and now > self.valid_until:
            return "expired"
        return "valid"


@dataclass(frozen=True, slots=True)
class KeyEnrolment:
    key_id: str
    warnings: tuple[str, ...]  # what an operator should know (already expired, shared key)


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A verified record ready to be stored (built by the ingest service)."""

    station_id: str
    record_id: str
    key_id: str
    payload: bytes
    payload_sha256: str
    signature: bytes
    received_at: datetime
    vin: str
    plate: str
    finished_at: datetime
    station_overall: str | None
    hub_overall: str | None
    hub_verdict: dict[str, Any] | None
    verdict_mismatch: bool


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A row as stored: NOT yet known to be genuine. Show it only after ``HubStore.check_records``."""

    record_id: str
    station_id: str
    key_id: str
    payload: bytes  # exactly the bytes the station signed
    payload_sha256: str
    signature: bytes
    received_at: datetime
    vin: str
    plate: str
    finished_at: datetime
    station_overall: str | None
    hub_overall: str | None
    hub_verdict: dict[str, Any] | None
    verdict_mismatch: bool

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An event to append to the audit log."""

    kind: str
    detail: str
    station_id: str | None = None
    record_id: str | None = None
    key_id: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    at: datetime
    kind: str
    station_id: str | None
    record_id: str | None
    key_id: str | None
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditCheck:
    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    records_checked: int = 0
    # Records whose row does not match the audit log: edited, deleted, or stored without an entry.
    record_problems: tuple[str, ...] = ()


def audit_hash(
    seq: int,
    at: datetime,
    kind: str,
    station_id: str | None,
    record_id: str | None,
    key_id: str | None,
    detail: str,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [seq, at.astimezone(UTC).isoformat(), kind, station_id, record_id, key_id, detail, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- _Dialect: the only dialect-specific SQL


def _insert_ignoring_duplicates(dialect_name: str, table: Table) -> Any:
    """INSERT .. ON CONFLICT DO NOTHING (same syntax on PostgreSQL and SQLite >= 3.24)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise HubStoreError(f"unsupported database dialect {dialect_name!r} (use sqlite or postgresql)")


def _lock_audit_head(connection: Connection) -> tuple[int, str]:
    """The chain head, locked until the transaction ends.

    PostgreSQL: SELECT .. FOR UPDATE of the head row serialises appenders across replicas.
    SQLite: FOR UPDATE is not rendered; the BEGIN IMMEDIATE write transaction already excludes
    every other writer.
    """
    row = connection.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    return row.seq, row.hash


def _lock_migrations(connection: Connection) -> None:
    """Two replicas starting together must not both create the schema.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the BEGIN IMMEDIATE transaction.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7301985240)"))


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so that BEGIN is ours (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an Ack promises the record is durable; group commit pays for the fsync.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(
            "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "BEGIN"
        )

    return engine


# ---------------------------------------------------------------- the store


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


class HubStore:
    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as error:
            raise InvalidDatabaseUrl(
                f"database URL {url!r} does not parse: use sqlite:///FILE or postgresql+psycopg://..."
            ) from error
        shown = parsed.render_as_string(hide_password=True)
        dialect = parsed.get_backend_name()
        try:
            if dialect == "sqlite":
                self._engine = _sqlite_engine(url)
            elif dialect == "postgresql":
                self._engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            else:
                raise InvalidDatabaseUrl(
                    f"unsupported database URL {shown!r}: use sqlite:/// or postgresql+psycopg://"
                )
        except (ArgumentError, NoSuchModuleError, ImportError) as error:
            raise InvalidDatabaseUrl(
                f"database URL {shown!r}: {error} (the hub speaks sqlite:/// and postgresql+psycopg://)"
            ) from error
        self._writer = self._engine.execution_options(**{_WRITE: True})
        self._url = url
        # Bumped on every change to the key directory made through this store, so a cache of
        # known_keys() in this process can notice at once (other replicas rely on its TTL).
        self._directory_version = 0
        self._version_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def directory_version(self) -> int:
        return self._directory_version

    def dispose(self) -> None:
        self._engine.dispose()

    def schema_revision(self) -> str | None:
        """The database's Alembic revision; None for a database the hub never migrated."""
        with self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str:
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        if head is None:  # pragma: no cover - the package always ships its migrations
            raise HubStoreError(f"no migrations in {_MIGRATIONS}")
        return head

    def check_schema(self) -> None:
        """Raise ``SchemaNotCurrent`` unless the schema is at this hub's newest revision."""
        current, head = self.schema_revision(), self.head_revision()
        if current == head:
            return
        if current is None:
            raise SchemaNotCurrent("the database has no hub schema: run `tongjian hub migrate` first")
        known = {
            script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
        }
        if current not in known:
            raise SchemaNotCurrent(
                f"the database schema is at revision {current}, newer than this hub knows (head {head}): "
                "run a hub of the version that migrated it"
            )
        raise SchemaNotCurrent(
            f"the database schema is at revision {current}, this hub needs {head}: run `tongjian hub migrate`"
        )

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent; safe with replicas starting together)."""
        config = _alembic_config()
        with self._writer.begin() as connection:
            _lock_migrations(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def _write_session(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def _bump_directory(self) -> None:
        with self._version_lock:
            self._directory_version += 1

    # ------------------------------------------------------------ station directory

    def register_station(self, station_id: str, province: str | None = None) -> None:
        """Add a station; registering one that exists changes nothing."""
        if not station_id or "/" in station_id:
            raise HubStoreError(f"station id {station_id!r} must be non-empty and contain no '/'")
        with self._write_session() as session:
            if session.get(Station, station_id) is not None:
                return
            now = datetime.now(UTC)
            session.add(Station(station_id=station_id, province=province, registered_at=now))
            session.flush()
            self._append_audit(
                session.connection(),
                [
                    AuditEntry(
                        "station_registered", f"province {province or '-'}", station_id=station_id, at=now
                    )
                ],
            )

    def add_station_key(
        self,
        station_id: str,
        pem_or_raw: bytes,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        """Enrol a station's public key; returns its key id (warnings are logged)."""
        return self.enrol_station_key(station_id, pem_or_raw, valid_from, valid_until).key_id

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
        with self._write_session() as session:
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
            self._append_audit(
                session.connection(),
                [AuditEntry("key_added", window, station_id=station_id, key_id=key_id, at=now)],
            )
        self._bump_directory()
        for warning in warnings:
            log.warning("enrolling a key for station %s: %s", station_id, warning)
        return KeyEnrolment(key_id, tuple(warnings))

    def revoke_key(self, key_id: str, at: datetime | None = None) -> None:
        """Revoke from ``at`` (default now): records received from then on are rejected; records
        accepted before stay stored and verifiable."""
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise HubStoreError(f"revocation time {when.isoformat()} has no time zone")
        with self._write_session() as session:
            key = session.get(StationKey, key_id)
            if key is None:
                raise UnknownKeyId(key_id)
            key.revoked_at = when
            session.flush()
            self._append_audit(
                session.connection(),
                [
                    AuditEntry(
                        "key_revoked", f"from {when.isoformat()}", station_id=key.station_id, key_id=key_id
                    )
                ],
            )
        self._bump_directory()

    def known_keys(self) -> dict[str, KnownKey]:
        with Session(self._engine) as session:
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

    def stations(self) -> list[StationInfo]:
        with Session(self._engine) as session:
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
        with Session(self._engine) as session:
            return [
                KeyInfo(k.key_id, k.station_id, k.added_at, k.valid_from, k.valid_until, k.revoked_at)
                for k in session.scalars(query)
            ]

    def station_province(self, station_id: str) -> str | None:
        with Session(self._engine) as session:
            station = session.get(Station, station_id)
            if station is None:
                raise UnknownStation(station_id)
            return station.province

    # ------------------------------------------------------------ records

    def commit_batch(
        self, records: Sequence[NewRecord], audits: Sequence[AuditEntry] = ()
    ) -> list[CommitOutcome]:
        """Store ``records`` and append ``audits`` in one transaction; one outcome per record.

        The database decides duplicates: INSERT .. ON CONFLICT DO NOTHING RETURNING tells which
        rows went in; for the others the stored payload digest tells a harmless resend
        (DUPLICATE) from a record id reused with other content (ID_REUSED, audited here).
        """
        table = Record.metadata.tables[Record.__tablename__]  # typed Table, not FromClause
        outcomes: list[CommitOutcome] = []
        extra_audits: list[AuditEntry] = []
        with self._writer.begin() as connection:
            if records:
                statement = _insert_ignoring_duplicates(connection.dialect.name, table).returning(
                    table.c.station_id, table.c.record_id
                )
                inserted = {tuple(row) for row in connection.execute(statement, [_row(r) for r in records])}
                pending = [r for r in records if (r.station_id, r.record_id) not in inserted]
                # Digests of what is stored now: rows from earlier commits, and (filled in below)
                # the rows this batch inserted, for a record sent twice within one batch.
                stored_digests: dict[tuple[str, str], str] = {}
                if pending:
                    query = select(table.c.station_id, table.c.record_id, table.c.payload_sha256).where(
                        table.c.record_id.in_({r.record_id for r in pending})
                    )
                    stored_digests = {(s, r): d for s, r, d in connection.execute(query)}
                claimed: set[tuple[str, str]] = set()
                for record in records:
                    key = (record.station_id, record.record_id)
                    if key in inserted and key not in claimed:
                        claimed.add(key)
                        stored_digests[key] = record.payload_sha256
                        outcomes.append(CommitOutcome.STORED)
                        # The audit chain commits to the stored row (hub.record_integrity).
                        extra_audits.append(
                            AuditEntry(
                                RECORD_STORED,
                                stored_event_detail(stored_row_digest(_row(record))),
                                station_id=record.station_id,
                                record_id=record.record_id,
                                key_id=record.key_id,
                                at=record.received_at,
                            )
                        )
                    elif stored_digests[key] == record.payload_sha256:
                        outcomes.append(CommitOutcome.DUPLICATE)
                    else:
                        outcomes.append(CommitOutcome.ID_REUSED)
                        extra_audits.append(
                            AuditEntry(
                                "record_rejected",
                                "id_reused: record id reused with different content "
                                f"(stored sha256 {stored_digests[key][:16]}, new {record.payload_sha256[:16]})",
                                station_id=record.station_id,
                                record_id=record.record_id,
                                key_id=record.key_id,
                                at=record.received_at,
                            )
                        )
            if audits or extra_audits:
                self._append_audit(connection, [*audits, *extra_audits])
        return outcomes

    def count_records(self, station_id: str | None = None) -> int:
        query = select(func.count()).select_from(Record)
        if station_id is not None:
            query = query.where(Record.station_id == station_id)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def get_record(self, record_id: str, station_id: str | None = None) -> StoredRecord | None:
        """The record with this id (record ids are UUIDs: unique across stations in practice; pass
        ``station_id`` to be exact)."""
        query = select(Record).where(Record.record_id == record_id).order_by(Record.seq).limit(1)
        if station_id is not None:
            query = query.where(Record.station_id == station_id)
        with Session(self._engine) as session:
            row = session.scalars(query).first()
            return None if row is None else _stored(row)

    def list_records(self, limit: int = 50, station_id: str | None = None) -> list[StoredRecord]:
        """Newest first."""
        query = select(Record).order_by(Record.seq.desc()).limit(limit)
        if station_id is not None:
            query = query.where(Record.station_id == station_id)
        with Session(self._engine) as session:
            return [_stored(row) for row in session.scalars(query)]

    def committed_digests(self, records: Sequence[StoredRecord]) -> dict[tuple[str, str], str]:
        """The row digest the audit log committed to for each of ``records`` (if any)."""
        ids = {record.record_id for record in records}
        if not ids:
            return {}
        query = (
            select(AuditEvent.station_id, AuditEvent.record_id, AuditEvent.detail)
            .where(AuditEvent.kind == RECORD_STORED, AuditEvent.record_id.in_(ids))
            .order_by(AuditEvent.seq)
        )
        digests: dict[tuple[str, str], str] = {}
        with self._engine.connect() as connection:
            for station_id, record_id, detail in connection.execute(query):
                digest = digest_of_event_detail(detail)
                # record_stored events always name station and record; the check narrows the type.
                if digest is not None and station_id is not None and record_id is not None:
                    digests[(station_id, record_id)] = digest
        return digests

    def check_records(self, records: Sequence[StoredRecord]) -> list[StoredCheck]:
        """Check each stored record again (bytes, signature, key, columns, audit commitment)."""
        keys = self.known_keys()
        digests = self.committed_digests(records)
        return [
            check_stored_record(record.columns(), keys, digests.get((record.station_id, record.record_id)))
            for record in records
        ]

    # ------------------------------------------------------------ audit log

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            with self._writer.begin() as connection:
                self._append_audit(connection, entries)

    def _append_audit(self, connection: Connection, entries: Sequence[AuditEntry]) -> None:
        seq, previous = _lock_audit_head(connection)
        rows = []
        for entry in entries:
            seq += 1
            digest = audit_hash(
                seq,
                entry.at,
                entry.kind,
                entry.station_id,
                entry.record_id,
                entry.key_id,
                entry.detail,
                previous,
            )
            rows.append(
                {
                    "seq": seq,
                    "at": entry.at,
                    "kind": entry.kind,
                    "station_id": entry.station_id,
                    "record_id": entry.record_id,
                    "key_id": entry.key_id,
                    "detail": entry.detail,
                    "prev_hash": previous,
                    "hash": digest,
                }
            )
            previous = digest
        connection.execute(insert(AuditEvent), rows)
        connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=previous))

    def audit_events(
        self,
        limit: int = 100,
        kind: str | None = None,
        station_id: str | None = None,
        record_id: str | None = None,
    ) -> list[AuditRow]:
        """Newest first."""
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
        if kind is not None:
            query = query.where(AuditEvent.kind == kind)
        if station_id is not None:
            query = query.where(AuditEvent.station_id == station_id)
        if record_id is not None:
            query = query.where(AuditEvent.record_id == record_id)
        with Session(self._engine) as session:
            return [_audit_row(row) for row in session.scalars(query)]

    def verify_audit_chain(self) -> AuditCheck:
        """Recompute every row's hash in order; report the first row that does not fit.

        Detects an edited row (its hash no longer matches), a deleted or inserted row (a gap in
        seq or a broken prev_hash link) and rows cut off the end (the head names a later row).
        An edit that also rewrites every later hash and the head is only caught by comparing the
        head hash with a copy kept elsewhere (``audit_head_hash``).
        """
        checked = 0
        previous_seq, previous_hash = 0, AUDIT_GENESIS_HASH
        committed: dict[tuple[str | None, str | None], tuple[int, str]] = {}
        with self._engine.connect() as connection:
            head_seq, head_hash = connection.execute(
                select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
            ).one()
            rows = connection.execution_options(yield_per=1000).execute(
                select(AuditEvent).order_by(AuditEvent.seq)
            )
            for row in rows:
                checked += 1
                if row.seq != previous_seq + 1:
                    return AuditCheck(
                        False, checked, row.seq, f"seq {row.seq} follows {previous_seq}: rows missing"
                    )
                if row.prev_hash != previous_hash:
                    return AuditCheck(
                        False, checked, row.seq, "prev_hash does not match the previous row's hash"
                    )
                expected = audit_hash(
                    row.seq,
                    row.at,
                    row.kind,
                    row.station_id,
                    row.record_id,
                    row.key_id,
                    row.detail,
                    row.prev_hash,
                )
                if row.hash != expected:
                    return AuditCheck(False, checked, row.seq, "row content does not match its hash (edited)")
                previous_seq, previous_hash = row.seq, row.hash
                if row.kind == RECORD_STORED:
                    digest = digest_of_event_detail(row.detail)
                    if digest is not None:
                        committed[(row.station_id, row.record_id)] = (row.seq, digest)
            if (head_seq, head_hash) != (previous_seq, previous_hash):
                return AuditCheck(
                    False,
                    checked,
                    previous_seq + 1,
                    f"chain ends at seq {previous_seq}, head says {head_seq}",
                )
            problems, records_checked = _compare_records(connection, committed)
        if problems:
            first = min((seq for seq, _ in problems if seq), default=None)
            return AuditCheck(
                False,
                checked,
                first,
                f"{len(problems)} stored record(s) do not match the audit log",
                records_checked,
                tuple(problem for _, problem in problems),
            )
        return AuditCheck(True, checked, records_checked=records_checked)

    def audit_head_hash(self) -> tuple[int, str]:
        with self._engine.connect() as connection:
            seq, digest = connection.execute(
                select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
            ).one()
            return int(seq), str(digest)


def _compare_records(
    connection: Connection, committed: dict[tuple[str | None, str | None], tuple[int, str]]
) -> tuple[list[tuple[int, str]], int]:
    """Every record row against the digest its ``record_stored`` event committed to."""
    problems: list[tuple[int, str]] = []
    unseen = dict(committed)
    checked = 0
    rows = connection.execution_options(yield_per=1000).execute(
        select(Record.__table__).order_by(Record.__table__.c.seq)
    )
    for row in rows:
        checked += 1
        columns = row._mapping
        key = (columns["station_id"], columns["record_id"])
        name = f"record {columns['record_id']} of station {columns['station_id']}"
        entry = unseen.pop(key, None)
        if entry is None:
            problems.append((0, f"{name} has no record_stored audit entry (inserted outside the hub)"))
        elif stored_row_digest(columns) != entry[1]:
            problems.append((entry[0], f"{name} was edited: its row no longer matches audit seq {entry[0]}"))
    for (station_id, record_id), (seq, _digest) in sorted(unseen.items(), key=lambda item: item[1][0]):
        problems.append((seq, f"record {record_id} of station {station_id} was deleted (audit seq {seq})"))
    return problems, checked


def _row(record: NewRecord) -> dict[str, Any]:
    return {
        "station_id": record.station_id,
        "record_id": record.record_id,
        "key_id": record.key_id,
        "payload": record.payload,
        "payload_sha256": record.payload_sha256,
        "signature": record.signature,
        "received_at": record.received_at,
        "vin": record.vin,
        "plate": record.plate,
        "finished_at": record.finished_at,
        "station_overall": record.station_overall,
        "hub_overall": record.hub_overall,
        "hub_verdict": record.hub_verdict,
        "verdict_mismatch": record.verdict_mismatch,
    }


def _stored(row: Record) -> StoredRecord:
    return StoredRecord(
        record_id=row.record_id,
        station_id=row.station_id,
        key_id=row.key_id,
        payload=bytes(row.payload),
        payload_sha256=row.payload_sha256,
        signature=bytes(row.signature),
        received_at=row.received_at,
        vin=row.vin,
        plate=row.plate,
        finished_at=row.finished_at,
        station_overall=row.station_overall,
        hub_overall=row.hub_overall,
        hub_verdict=row.hub_verdict,
        verdict_mismatch=row.verdict_mismatch,
    )


def _audit_row(row: AuditEvent) -> AuditRow:
    return AuditRow(
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        station_id=row.station_id,
        record_id=row.record_id,
        key_id=row.key_id,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )

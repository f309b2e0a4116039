"""The hub's database: engine and dialect, transactions, and the schema (Alembic migrations).

SQLite (a file, WAL, busy timeout) by default, PostgreSQL by URL. Several stateless hub replicas
may share one PostgreSQL: duplicates are decided by the unique constraint on
(station_id, record_id), not by anything held in memory, and audit appends are serialised by
locking the chain-head row (``hub.audit``).

Dialect-specific SQL lives here, with the SQLite equivalent beside the PostgreSQL form.

SQLite transactions: reads start a deferred ``BEGIN`` (WAL readers never wait), writes start
``BEGIN IMMEDIATE`` so that a writer takes the write lock before it reads what it will change
(the chain head), and waits for it under the busy timeout instead of failing on lock upgrade.
Writers of one process also queue on a lock of their own first (``Writer``): SQLite's busy handler
polls with sleeps growing to 100 ms, so a commit that waited behind another writer's 20 ms
transaction was woken tens of milliseconds late, which was most of the ingest Ack's p99.

A unit of work is one transaction: ``Database.write()`` yields a ``Session`` whose connection
every part of the work (rows, and the audit entries about them) uses, so they commit together.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session

from hub.errors import HubStoreError, InvalidDatabaseUrl, SchemaNotCurrent

MIGRATIONS = Path(__file__).parent / "migrations"


class SerializedJson(str):
    """JSON text made already: a JSON column stores it as it is instead of encoding the value
    again. The ingest path makes a record's verdict JSON in its check workers, off the one writer
    thread, in the row digest's canonical form (``hub.record_integrity.canonical_json``)."""

    __slots__ = ()


def serialize_json(value: Any) -> str:
    """Every engine's JSON serializer: ``json.dumps``, except for ``SerializedJson``."""
    return value if isinstance(value, SerializedJson) else json.dumps(value)


_WRITE = "tongjian_hub_write"  # execution option: this connection writes (SQLite: BEGIN IMMEDIATE)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class Writer:
    """Write transactions: ``begin()`` as ``Engine.begin()``, after this process's writers ahead.

    ``queue`` is a lock on SQLite (one writer at a time anyway; see the module docstring) and
    nothing on PostgreSQL, where writers run side by side. Re-entrant, so that a write nested in
    another on one thread fails as before (SQLite's busy timeout) rather than hanging here."""

    def __init__(self, engine: Engine, queue: contextlib.AbstractContextManager[Any]) -> None:
        self.engine = engine
        self.queue = queue

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.queue, self.engine.begin() as connection:
            yield connection


class Database:
    """One engine for reads and its write-flavoured twin (SQLite: ``BEGIN IMMEDIATE``)."""

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
                self.engine = _sqlite_engine(url)
            elif dialect == "postgresql":
                self.engine = create_engine(
                    url, pool_size=8, max_overflow=8, pool_pre_ping=True, json_serializer=serialize_json
                )
            else:
                raise InvalidDatabaseUrl(
                    f"unsupported database URL {shown!r}: use sqlite:/// or postgresql+psycopg://"
                )
        except (ArgumentError, NoSuchModuleError, ImportError) as error:
            raise InvalidDatabaseUrl(
                f"database URL {shown!r}: {error} (the hub speaks sqlite:/// and postgresql+psycopg://)"
            ) from error
        self.writer = Writer(
            self.engine.execution_options(**{_WRITE: True}),
            threading.RLock() if dialect == "sqlite" else contextlib.nullcontext(),
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction; commits when the block ends without an exception."""
        with (
            self.writer.queue,
            Session(self.writer.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def read(self) -> Session:
        return Session(self.engine)

    # ------------------------------------------------------------ schema

    def schema_revision(self) -> str | None:
        """The database's Alembic revision; None for a database the hub never migrated."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        if head is None:  # pragma: no cover - the package always ships its migrations
            raise HubStoreError(f"no migrations in {MIGRATIONS}")
        return head

    def check_schema(self) -> None:
        """Raise ``SchemaNotCurrent`` unless the schema is at this hub's newest revision."""
        current, head = self.schema_revision(), self.head_revision()
        if current == head:
            return
        if current is None:
            raise SchemaNotCurrent("the database has no hub schema: run `tongjian hub migrate` first")
        known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
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
        config = alembic_config()
        with self.writer.begin() as connection:
            _lock_migrations(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def insert_ignoring_duplicates(dialect_name: str, table: Table) -> Any:
    """INSERT .. ON CONFLICT DO NOTHING (same syntax on PostgreSQL and SQLite >= 3.24)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise HubStoreError(f"unsupported database dialect {dialect_name!r} (use sqlite or postgresql)")


class Insertion(StrEnum):
    """What ``insert_once`` made of one row."""

    NEW = "new"  # inserted by this call
    SAME = "same"  # the same (station, record id) was stored before with the same digest
    CLASH = "clash"  # the same (station, record id) is stored with another digest


def insert_once(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], digest_column: str
) -> list[tuple[Insertion, str]]:
    """Insert rows keyed by (station_id, record_id) that are not stored yet; for each row, what it
    was and the digest stored under its key now.

    The database decides (INSERT .. ON CONFLICT DO NOTHING RETURNING), so replicas sharing it
    agree. A key given twice in one call is NEW once and SAME or CLASH after that."""
    if not rows:
        return []
    statement = insert_ignoring_duplicates(connection.dialect.name, table).returning(
        table.c.station_id, table.c.record_id
    )
    inserted = {tuple(row) for row in connection.execute(statement, list(rows))}
    keys = [(row["station_id"], row["record_id"]) for row in rows]
    stored: dict[tuple[str, str], str] = {}
    earlier = {key for key in keys if key not in inserted}
    if earlier:
        query = select(table.c.station_id, table.c.record_id, table.c[digest_column]).where(
            table.c.record_id.in_({record_id for _, record_id in earlier})
        )
        stored = {(s, r): d for s, r, d in connection.execute(query)}
    results: list[tuple[Insertion, str]] = []
    claimed: set[tuple[str, str]] = set()
    for key, row in zip(keys, rows, strict=True):
        digest = row[digest_column]
        if key in inserted and key not in claimed:
            claimed.add(key)
            stored[key] = digest
            results.append((Insertion.NEW, digest))
        elif stored.get(key) == digest:
            results.append((Insertion.SAME, digest))
        else:
            results.append((Insertion.CLASH, stored.get(key, "?")))
    return results


def _lock_migrations(connection: Connection) -> None:
    """Two replicas starting together must not both create the schema.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the BEGIN IMMEDIATE transaction.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7301985240)"))


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": 30.0, "check_same_thread": False}, json_serializer=serialize_json
    )

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

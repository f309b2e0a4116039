"""The durable outbox: signed records waiting for the hub's acknowledgement, on local SQLite.

Theory of operation
-------------------
A record enters with ``put`` once the lane is finished with it; ``put`` returns only after the row
is committed and fsynced (WAL mode, ``synchronous=FULL``), because from that moment the station
tells the vehicle owner the inspection is done, and a power cut must not undo that. The uplink
reads entries oldest first with ``peek``, and settles each one when the hub answers: ``remove``
on ACCEPTED or DUPLICATE, ``move_to_rejected`` on REJECTED. Rejected records go to a dead-letter
table for the operator, so they are neither retried forever nor lost.

Sequence numbers come from ``AUTOINCREMENT``, not a plain rowid: a rowid may be handed out again
once the newest rows are deleted, and the uplink's cursor (``peek(after_seq=...)``) would then skip
the new record. With ``AUTOINCREMENT`` a sequence number is never reused.

The store is used from the asyncio loop through ``asyncio.to_thread`` (a commit waits for the disk)
and possibly from several threads at once, so one connection is shared under a lock.

Exceptions::

    OutboxError
    ├── OutboxUnusable      the path is no outbox: a missing directory, a directory, not a database
    ├── OutboxFull          put() past max_depth: the lane must stop and tell the operator
    └── RecordIdConflict    put() of a record id already queued with different bytes
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.errors import StationAgentError

_SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL UNIQUE,
        envelope BLOB NOT NULL,
        enqueued_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS rejected (
        seq INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL,
        envelope BLOB NOT NULL,
        enqueued_at REAL NOT NULL,
        rejected_at REAL NOT NULL,
        reason TEXT NOT NULL
    )""",
)


class OutboxError(StationAgentError):
    """Base of the outbox's own errors (SQLite's errors pass through unchanged)."""


class OutboxUnusable(OutboxError):
    """The outbox path cannot be an outbox; nothing was created."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"outbox {path}: {reason}")
        self.path = path
        self.reason = reason


class OutboxFull(OutboxError):
    """The outbox holds ``limit`` records already; nothing was stored."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"outbox full: {depth} records waiting for the hub, limit {limit}")
        self.depth = depth
        self.limit = limit


class RecordIdConflict(OutboxError):
    """A record id is already queued with different envelope bytes; the queued one was kept."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id} is already queued with a different envelope")
        self.record_id = record_id


def check_outbox_path(path: Path, *, create: bool = True) -> None:
    """Raises ``OutboxUnusable`` if ``path`` cannot be an outbox file: checked before anything
    else starts, so that a typo is one line at start-up rather than a SQLite error later."""
    if path.is_dir():
        raise OutboxUnusable(path, "is a directory; give a file path, e.g. outbox.sqlite3")
    if not path.parent.is_dir():
        raise OutboxUnusable(path, f"directory {path.parent} does not exist")
    if not create and not path.exists():
        raise OutboxUnusable(path, "no such file")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    record_id: str
    envelope_bytes: bytes  # a serialized SignedRecord, sent as is
    enqueued_at: float  # Unix time


@dataclass(frozen=True, slots=True)
class RejectedEntry:
    seq: int
    record_id: str
    envelope_bytes: bytes
    enqueued_at: float
    rejected_at: float
    reason: str  # the hub's words


class OutboxStore:
    """A bounded, crash-safe FIFO of signed records in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        max_depth: int,
        *,
        clock: Callable[[], float] = time.time,
        create: bool = True,
    ) -> None:
        """Opens the outbox at ``path``, creating it unless ``create`` is False.

        Raises ``OutboxUnusable`` naming the path when its directory is missing, it is a directory,
        or it is not an outbox database (another file, another program's SQLite database).
        """
        if max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, not {max_depth}")
        self._path = Path(path)
        self._max_depth = max_depth
        self._clock = clock
        self._lock = threading.Lock()
        check_outbox_path(self._path, create=create)
        # isolation_level=None: no implicit transactions; every write below opens its own
        # BEGIN IMMEDIATE so that a check (depth, duplicate) and the write it guards are atomic.
        try:
            self._db = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as error:
            raise OutboxUnusable(self._path, f"cannot open: {error}") from error
        try:
            self._configure()
        except sqlite3.DatabaseError as error:
            self._db.close()
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise
            raise OutboxUnusable(self._path, f"not an outbox database ({error})") from error
        except BaseException:
            self._db.close()
            raise

    def _configure(self) -> None:
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "outbox" not in tables:
            # Another program's database (the hub's, say): adding our tables to it would hide the mistake.
            raise OutboxUnusable(
                self._path,
                f"is a SQLite database without an outbox (tables: {', '.join(sorted(tables)[:5])})",
            )
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            # Some file systems (network mounts) cannot do WAL; better to refuse than to run
            # with durability nobody checked.
            raise OutboxError(f"{self._path}: SQLite refused WAL mode (got {mode!r})")
        self._db.execute("PRAGMA synchronous=FULL")
        # Statement by statement: executescript() would commit the transaction opened here.
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version == 0:
                db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            elif version != _SCHEMA_VERSION:
                raise OutboxError(
                    f"{self._path}: outbox schema version {version}, expected {_SCHEMA_VERSION}"
                )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, I/O error) may or may not have ended the transaction;
            # left open, every later BEGIN would fail and reads would see the uncommitted rows.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    @property
    def path(self) -> Path:
        return self._path

    @property
    def max_depth(self) -> int:
        return self._max_depth

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> OutboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the lane's side

    def put(self, envelope: pb.SignedRecord, record_id: str) -> None:
        """Queue ``envelope``; committed to disk when this returns.

        Putting a record id that is already queued with the same bytes does nothing (a lane may
        retry after a crash); with different bytes it raises ``RecordIdConflict``. A record already
        delivered and removed is queued again, and the hub will answer DUPLICATE.
        Raises ``OutboxFull`` when ``max_depth`` records are waiting.
        """
        envelope_bytes = envelope.SerializeToString(deterministic=True)
        with self._lock, self._transaction() as db:
            row = db.execute("SELECT envelope FROM outbox WHERE record_id = ?", (record_id,)).fetchone()
            if row is not None:
                if row[0] != envelope_bytes:
                    raise RecordIdConflict(record_id)
                return
            (depth,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            if depth >= self._max_depth:
                raise OutboxFull(depth, self._max_depth)
            db.execute(
                "INSERT INTO outbox (record_id, envelope, enqueued_at) VALUES (?, ?, ?)",
                (record_id, envelope_bytes, self._clock()),
            )

    # ------------------------------------------------------------------ the uplink's side

    def peek(self, after_seq: int = 0, limit: int = 100) -> list[OutboxEntry]:
        """Up to ``limit`` entries with ``seq > after_seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, record_id, envelope, enqueued_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        """Delete delivered entries, all in one transaction; unknown sequence numbers are ignored."""
        params = [(seq,) for seq in seqs]
        if not params:
            return
        with self._lock, self._transaction() as db:
            db.executemany("DELETE FROM outbox WHERE seq = ?", params)

    def move_to_rejected(self, seq: int, reason: str) -> bool:
        """Move one entry to the dead-letter table; False if ``seq`` is not (or no longer) queued."""
        with self._lock, self._transaction() as db:
            moved = db.execute(
                "INSERT INTO rejected (seq, record_id, envelope, enqueued_at, rejected_at, reason) "
                "SELECT seq, record_id, envelope, enqueued_at, ?, ? FROM outbox WHERE seq = ?",
                (self._clock(), reason, seq),
            ).rowcount
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
        return moved == 1

    # ------------------------------------------------------------------ the operator's side

    def requeue(self, record_id: str) -> bool:
        """Send a dead letter again (the cause is fixed, e.g. the key enrolled): its envelope goes
        back to the end of the queue byte for byte, never re-signed. False if no dead letter has
        ``record_id``; ``RecordIdConflict`` if the record id is queued with other bytes meanwhile."""
        with self._lock, self._transaction() as db:
            rows = db.execute(
                "SELECT envelope, enqueued_at FROM rejected WHERE record_id = ? ORDER BY seq DESC",
                (record_id,),
            ).fetchall()
            if not rows:
                return False
            envelope, enqueued_at = rows[0]
            queued = db.execute("SELECT envelope FROM outbox WHERE record_id = ?", (record_id,)).fetchone()
            if queued is not None and queued[0] != envelope:
                raise RecordIdConflict(record_id)
            if queued is None:
                # A new sequence number: the uplink's cursor may be past the old one.
                db.execute(
                    "INSERT INTO outbox (record_id, envelope, enqueued_at) VALUES (?, ?, ?)",
                    (record_id, envelope, enqueued_at),
                )
            db.execute("DELETE FROM rejected WHERE record_id = ?", (record_id,))
        return True

    def requeue_all(self) -> list[str]:
        """``requeue`` every dead letter, oldest first; returns their record ids."""
        with self._lock:
            record_ids = [
                record_id
                for (record_id,) in self._db.execute(
                    "SELECT record_id FROM rejected GROUP BY record_id ORDER BY MIN(seq)"
                )
            ]
        return [record_id for record_id in record_ids if self.requeue(record_id)]

    def depth(self) -> int:
        with self._lock:
            (depth,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(depth)

    def oldest_age_s(self) -> float:
        """Seconds the oldest queued record has waited; 0.0 when the outbox is empty."""
        with self._lock:
            (oldest,) = self._db.execute("SELECT MIN(enqueued_at) FROM outbox").fetchone()
        return 0.0 if oldest is None else max(0.0, self._clock() - oldest)

    def rejected_reasons(self) -> list[str]:
        """The reason of each dead-letter entry, without loading the envelopes (for metrics)."""
        with self._lock:
            return [reason for (reason,) in self._db.execute("SELECT reason FROM rejected ORDER BY seq")]

    def rejected(self) -> list[RejectedEntry]:
        """The dead-letter table, oldest record first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, record_id, envelope, enqueued_at, rejected_at, reason FROM rejected ORDER BY seq"
            ).fetchall()
        return [RejectedEntry(*row) for row in rows]

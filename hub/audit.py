"""The hash-chained audit log: append inside the caller's transaction, read, verify.

Every row's ``hash`` is sha256 over its content and the previous row's hash (``audit_hash``);
the single ``audit_head`` row holds the chain's last seq and hash. Appenders lock the head
(PostgreSQL: SELECT .. FOR UPDATE; SQLite: the BEGIN IMMEDIATE write transaction), which
serialises appends across replicas.

``append_audit(connection, entries)`` joins the caller's transaction: the rows an action writes
and the audit entries about them commit together or not at all. ``AuditLog`` reads and verifies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from hub.db import Database
from hub.models import AUDIT_GENESIS_HASH, AuditEvent, AuditHead, Record
from hub.record_integrity import RECORD_STORED, digest_of_event_detail, stored_row_digest


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


def append_audit(connection: Connection, entries: Sequence[AuditEntry]) -> None:
    """Append ``entries`` in the transaction ``connection`` is in; the head stays locked until it ends."""
    if not entries:
        return
    seq, previous = _lock_audit_head(connection)
    rows = []
    for entry in entries:
        seq += 1
        digest = audit_hash(
            seq, entry.at, entry.kind, entry.station_id, entry.record_id, entry.key_id, entry.detail, previous
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


class AuditLog:
    def __init__(self, database: Database) -> None:
        self._database = database

    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` in a transaction of their own (nothing else to commit with them)."""
        if entries:
            with self._database.writer.begin() as connection:
                append_audit(connection, entries)

    def events(
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
        with self._database.read() as session:
            return [
                AuditRow(
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
                for row in session.scalars(query)
            ]

    def committed_digests(self, ids: set[str]) -> dict[tuple[str, str], str]:
        """The row digest the audit log committed to for each (station, record) among ``ids``."""
        if not ids:
            return {}
        query = (
            select(AuditEvent.station_id, AuditEvent.record_id, AuditEvent.detail)
            .where(AuditEvent.kind == RECORD_STORED, AuditEvent.record_id.in_(ids))
            .order_by(AuditEvent.seq)
        )
        digests: dict[tuple[str, str], str] = {}
        with self._database.engine.connect() as connection:
            for station_id, record_id, detail in connection.execute(query):
                digest = digest_of_event_detail(detail)
                # record_stored events always name station and record; the check narrows the type.
                if digest is not None and station_id is not None and record_id is not None:
                    digests[(station_id, record_id)] = digest
        return digests

    def verify(self) -> AuditCheck:
        """Recompute every row's hash in order; report the first row that does not fit.

        Detects an edited row (its hash no longer matches), a deleted or inserted row (a gap in
        seq or a broken prev_hash link) and rows cut off the end (the head names a later row).
        An edit that also rewrites every later hash and the head is only caught by comparing the
        head hash with a copy kept elsewhere (``head_hash``).
        """
        checked = 0
        previous_seq, previous_hash = 0, AUDIT_GENESIS_HASH
        committed: dict[tuple[str | None, str | None], tuple[int, str]] = {}
        with self._database.engine.connect() as connection:
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

    def head_hash(self) -> tuple[int, str]:
        with self._database.engine.connect() as connection:
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
    table = Record.metadata.tables[Record.__tablename__]
    rows = connection.execution_options(yield_per=1000).execute(select(table).order_by(table.c.seq))
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

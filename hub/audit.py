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
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, insert, select, update

from hub.audit_checkpoint import CheckpointInvalid, SignedCheckpoint, parse_checkpoint, verify_checkpoint
from hub.db import Database
from hub.merkle import TreeBuilder, leaf_hash
from hub.models import AUDIT_GENESIS_HASH, AuditCheckpoint, AuditEvent, AuditHead, Record
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


class AuditProblem(StrEnum):
    """What ``AuditLog.verify`` found first."""

    CONTENT_CHANGED = "content changed"
    MISSING_SEQ = "missing seq"
    OUT_OF_ORDER = "out of order"
    CHAIN_BROKEN = "chain broken"
    TAIL_CUT = "tail cut"
    TAIL_REWRITTEN = "tail rewritten"
    CHECKPOINT_INVALID = "checkpoint invalid"
    RECORDS = "records do not match"


@dataclass(frozen=True, slots=True)
class AuditCheck:
    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    records_checked: int = 0
    # Records whose row does not match the audit log: edited, deleted, or stored without an entry.
    record_problems: tuple[str, ...] = ()
    kind: AuditProblem | None = None
    checkpoints_checked: int = 0


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


def audit_leaf(
    seq: int,
    at: datetime,
    kind: str,
    station_id: str | None,
    record_id: str | None,
    key_id: str | None,
    detail: str,
) -> bytes:
    """The entry's leaf in the audit log's Merkle tree (``hub.audit_tree``): its content and seq,
    canonical JSON, UTF-8; not ``prev_hash``, so an inclusion proof stands on the entry alone and
    the tree and the chain are two independent commitments to the same entries."""
    return json.dumps(
        [seq, at.astimezone(UTC).isoformat(), kind, station_id, record_id, key_id, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


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

    def verify(self, checkpoint_key: tuple[str, Ed25519PublicKey] | None = None) -> AuditCheck:
        """Walk the log in seq order and report the first entry that does not fit.

        Per row: a gap in seq (rows deleted), a row whose hash no longer matches its content
        (edited) or that links to the wrong predecessor; a row that fits at another seq is named
        as moved (reordered). The rows also make the RFC 9162 tree (``hub.merkle``): at each
        stored checkpoint's size its root must be the signed one, which catches an edit whose
        chain was recomputed to the end ("tail rewritten"); a checkpoint larger than the log
        means rows were cut off the end. With ``checkpoint_key`` (signer, public key) every
        checkpoint's signature is checked too. Last, every stored record against the digest its
        ``record_stored`` entry committed to.
        """
        checked = 0
        previous_seq, previous_hash = 0, AUDIT_GENESIS_HASH
        committed: dict[tuple[str | None, str | None], tuple[int, str]] = {}
        tree = TreeBuilder()
        with self._snapshot() as connection:
            head_seq, head_hash = connection.execute(
                select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
            ).one()
            checkpoints, problem = _read_checkpoints(connection, checkpoint_key)
            if problem is not None:
                return problem
            pending = iter(checkpoints)
            checkpoint = next(pending, None)
            last_good = 0
            rows = connection.execution_options(yield_per=1000).execute(
                select(AuditEvent).order_by(AuditEvent.seq)
            )
            for row in rows:
                checked += 1
                if row.seq != previous_seq + 1:
                    missing = (
                        f"seq {previous_seq + 1}"
                        if row.seq == previous_seq + 2
                        else f"seq {previous_seq + 1}..{row.seq - 1}"
                    )
                    return AuditCheck(
                        False,
                        checked,
                        previous_seq + 1,
                        f"{missing} missing: seq {row.seq} follows {previous_seq} (rows removed)",
                        kind=AuditProblem.MISSING_SEQ,
                    )
                content = _content(row)
                expected = audit_hash(row.seq, *content, row.prev_hash)
                if row.prev_hash != previous_hash or row.hash != expected:
                    return _diagnose(connection, row, checked, previous_hash, expected)
                previous_seq, previous_hash = row.seq, row.hash
                tree.append(leaf_hash(audit_leaf(row.seq, *content)))
                while checkpoint is not None and checkpoint.size == tree.size:
                    if tree.root() != checkpoint.root:
                        return AuditCheck(
                            False,
                            checked,
                            last_good + 1,
                            f"tail rewritten after checkpoint {last_good}: entries {last_good + 1}..{tree.size} "
                            f"no longer make the tree the checkpoint of size {tree.size} "
                            f"(signed {checkpoint.signed_at.isoformat()}) signed, though their chain is whole",
                            kind=AuditProblem.TAIL_REWRITTEN,
                        )
                    last_good = checkpoint.size
                    checkpoint = next(pending, None)
                if row.kind == RECORD_STORED:
                    digest = digest_of_event_detail(row.detail)
                    if digest is not None:
                        committed[(row.station_id, row.record_id)] = (row.seq, digest)
            if (head_seq, head_hash) != (previous_seq, previous_hash):
                return AuditCheck(
                    False,
                    checked,
                    previous_seq + 1,
                    f"chain ends at seq {previous_seq}, head says {head_seq}: rows cut off the end",
                    kind=AuditProblem.TAIL_CUT,
                )
            if checkpoint is not None:
                return AuditCheck(
                    False,
                    checked,
                    previous_seq + 1,
                    f"the log has {previous_seq} entries, but checkpoint {checkpoint.size} "
                    f"(signed {checkpoint.signed_at.isoformat()}) says it had {checkpoint.size}: "
                    f"entries {previous_seq + 1}..{checkpoint.size} removed and the head reset",
                    kind=AuditProblem.TAIL_CUT,
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
                kind=AuditProblem.RECORDS,
                checkpoints_checked=len(checkpoints),
            )
        return AuditCheck(
            True, checked, records_checked=records_checked, checkpoints_checked=len(checkpoints)
        )

    def _snapshot(self) -> Connection:
        """A connection whose reads all see one snapshot, so a hub appending while it is verified
        does not look like a log whose head and rows disagree. SQLite: the deferred BEGIN of a
        read (hub.db) already is one; PostgreSQL needs REPEATABLE READ."""
        connection = self._database.engine.connect()
        if self._database.dialect == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        return connection

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


def _content(row: Any) -> tuple[datetime, str, str | None, str | None, str | None, str]:
    return (row.at, row.kind, row.station_id, row.record_id, row.key_id, row.detail)


@dataclass(frozen=True, slots=True)
class _CheckedCheckpoint:
    size: int
    root: bytes
    signed_at: datetime


def _read_checkpoints(
    connection: Connection, checkpoint_key: tuple[str, Ed25519PublicKey] | None
) -> tuple[list[_CheckedCheckpoint], AuditCheck | None]:
    """Every stored checkpoint, smallest first, its row held to its signed body (and with a key,
    its signature checked); or the first one that is wrong, as a failed ``AuditCheck``."""
    checked: list[_CheckedCheckpoint] = []
    for row in connection.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)):
        signed = SignedCheckpoint(row.body, row.key_id, row.signature)
        try:
            if checkpoint_key is not None:
                checkpoint = verify_checkpoint(signed, checkpoint_key[1], checkpoint_key[0])
            else:
                checkpoint = parse_checkpoint(row.body)
        except CheckpointInvalid as error:
            return [], _bad_checkpoint(row.tree_size, str(error))
        if checkpoint.size != row.tree_size or checkpoint.root.hex() != row.root_hash:
            return [], _bad_checkpoint(row.tree_size, "its row's size or root differ from the signed text")
        checked.append(_CheckedCheckpoint(checkpoint.size, checkpoint.root, checkpoint.signed_at))
    return checked, None


def _bad_checkpoint(size: int, reason: str) -> AuditCheck:
    return AuditCheck(
        False, 0, None, f"checkpoint of size {size}: {reason}", kind=AuditProblem.CHECKPOINT_INVALID
    )


def _diagnose(
    connection: Connection, row: Any, checked: int, previous_hash: str, expected: str
) -> AuditCheck:
    """Name what happened to the first row that does not fit: moved from another seq (its own
    hash fits there), edited, or linked to a row that is not its predecessor."""
    moved_from = _original_seq(connection, row)
    if moved_from is not None:
        return AuditCheck(
            False,
            checked,
            row.seq,
            f"out of order: the entry at seq {row.seq} was written as seq {moved_from} (rows reordered)",
            kind=AuditProblem.OUT_OF_ORDER,
        )
    if row.prev_hash == previous_hash:
        return AuditCheck(
            False,
            checked,
            row.seq,
            f"content changed: seq {row.seq} no longer matches its hash (edited)",
            kind=AuditProblem.CONTENT_CHANGED,
        )
    if row.hash == expected:
        return AuditCheck(
            False,
            checked,
            row.seq,
            f"chain broken at seq {row.seq}: prev_hash does not match the previous row's hash",
            kind=AuditProblem.CHAIN_BROKEN,
        )
    return AuditCheck(
        False,
        checked,
        row.seq,
        f"content changed: seq {row.seq} matches neither its hash nor its predecessor (edited)",
        kind=AuditProblem.CONTENT_CHANGED,
    )


def _original_seq(connection: Connection, misfit: Any) -> int | None:
    """The seq ``misfit``'s content was written at, if not its own: either its whole row moved
    (its stored hash is its content's at the seq after the row its prev_hash names) or only its
    content did (another row's hash and prev_hash fit it). One pass over the log, on failure only."""
    content = _content(misfit)
    if (
        misfit.prev_hash == AUDIT_GENESIS_HASH
        and misfit.seq != 1
        and audit_hash(1, *content, misfit.prev_hash) == misfit.hash
    ):
        return 1
    rows = connection.execution_options(yield_per=1000).execute(
        select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash).order_by(AuditEvent.seq)
    )
    for seq, prev_hash, digest in rows:
        if seq == misfit.seq:
            continue
        if digest == misfit.prev_hash and audit_hash(seq + 1, *content, misfit.prev_hash) == misfit.hash:
            return int(seq) + 1
        if audit_hash(seq, *content, prev_hash) == digest:
            return int(seq)
    return None

"""Records as stored: the one row shape, the batch commit that decides duplicates, and reads.

``RecordRow`` is the record shape outside the ORM: what the ingest service hands in
(``record_row``) and what readers get back. Its fields are the ``records`` table's columns
(``hub.models.Record``) minus the sequence number; a test holds the two together, and both
``commit_batch`` and the reads convert by those field names, so a new column is added in two
places (the model with its migration, and here).

A row read back is NOT yet known to be genuine: show it only after ``check_records``.

``PreparedRow`` is a row with what the commit computes from it done beforehand: the row digest
the audit log commits to and the verdict's JSON text. The ingest service's check workers make
it (``prepare_row``), so that the one writer thread, which every stream's commit waits for, does
not: that was ~40 % of its CPU per record (two JSON encodings of an ~80-item verdict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from hub.audit import AuditEntry, AuditLog, append_audit
from hub.db import Database, Insertion, SerializedJson, insert_once
from hub.directory import StationDirectory
from hub.envelope_check import VerifiedRecord
from hub.forward_outbox import ForwardRow, insert_in
from hub.models import Record
from hub.record_integrity import (
    RECORD_STORED,
    StoredCheck,
    canonical_json,
    check_stored_record,
    stored_event_detail,
    stored_row_digest,
)
from hub.verdict import verdict_to_json
from inspection import Verdict


class CommitOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # the same bytes were stored before
    ID_REUSED = "id_reused"  # the same (station, record id) was stored with other bytes


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One record row: the exact signed bytes plus columns extracted for search and review."""

    station_id: str
    record_id: str
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
        return {name: getattr(self, name) for name in ROW_COLUMNS}

    @classmethod
    def of(cls, row: Record) -> RecordRow:
        values = {name: getattr(row, name) for name in ROW_COLUMNS}
        # Drivers may hand binary columns back as memoryview; the shape promises bytes.
        values["payload"], values["signature"] = bytes(row.payload), bytes(row.signature)
        return cls(**values)


ROW_COLUMNS = tuple(field.name for field in fields(RecordRow))


def record_row(verified: VerifiedRecord, received_at: datetime, hub_verdict: Verdict | None) -> RecordRow:
    """The row to store for a verified record and the hub's own verdict on it."""
    record = verified.record
    station_overall = record.station_verdict.overall.value if record.station_verdict is not None else None
    hub_overall = hub_verdict.overall.value if hub_verdict is not None else None
    return RecordRow(
        station_id=record.station_id,
        record_id=verified.record_id,
        key_id=verified.key.key_id,
        payload=verified.payload,
        payload_sha256=verified.payload_sha256,
        signature=verified.signature,
        received_at=received_at,
        vin=record.vehicle.vin,
        plate=record.vehicle.plate,
        finished_at=record.finished_at,
        station_overall=station_overall,
        hub_overall=hub_overall,
        hub_verdict=verdict_to_json(hub_verdict) if hub_verdict is not None else None,
        verdict_mismatch=(
            station_overall is not None and hub_overall is not None and station_overall != hub_overall
        ),
    )


@dataclass(frozen=True, slots=True)
class PreparedRow:
    row: RecordRow
    digest: str  # stored_row_digest of the row's columns
    hub_verdict_json: SerializedJson | None  # the hub_verdict column's value as JSON text


def prepare_row(row: RecordRow) -> PreparedRow:
    # One encoding of the verdict serves the column and the digest (``stored_row_digest``).
    verdict_json = None if row.hub_verdict is None else SerializedJson(canonical_json(row.hub_verdict))
    return PreparedRow(row, stored_row_digest(row.columns(), verdict_json), verdict_json)


def _insert_values(prepared: PreparedRow) -> dict[str, Any]:
    values = prepared.row.columns()
    if prepared.hub_verdict_json is not None:
        values["hub_verdict"] = prepared.hub_verdict_json
    return values


class RecordStore:
    def __init__(self, database: Database, directory: StationDirectory, audit: AuditLog) -> None:
        self._database = database
        self._directory = directory
        self._audit = audit

    def commit_batch(
        self,
        rows: Sequence[RecordRow | PreparedRow],
        audits: Sequence[AuditEntry] = (),
        forwards: Sequence[ForwardRow] = (),
    ) -> list[CommitOutcome]:
        """Store ``rows`` and append ``audits`` in one transaction; one outcome per record.

        ``forwards`` are outbox items for some of ``rows`` (``hub.forward_outbox``): each goes
        in, in the same transaction, if and only if its record is stored by this batch.

        The database decides duplicates: INSERT .. ON CONFLICT DO NOTHING RETURNING tells which
        rows went in; for the others the stored payload digest tells a harmless resend
        (DUPLICATE) from a record id reused with other content (ID_REUSED, audited here).
        """
        table = Record.metadata.tables[Record.__tablename__]  # typed Table, not FromClause
        prepared = [row if isinstance(row, PreparedRow) else prepare_row(row) for row in rows]
        records = [p.row for p in prepared]
        outcomes: list[CommitOutcome] = []
        extra_audits: list[AuditEntry] = []
        with self._database.writer.begin() as connection:
            if records:
                values = [_insert_values(p) for p in prepared]
                insertions = insert_once(connection, table, values, "payload_sha256")
                for ready, (insertion, stored_digest) in zip(prepared, insertions, strict=True):
                    record = ready.row
                    if insertion is Insertion.NEW:
                        outcomes.append(CommitOutcome.STORED)
                        # The audit chain commits to the stored row (hub.record_integrity).
                        extra_audits.append(
                            AuditEntry(
                                RECORD_STORED,
                                stored_event_detail(ready.digest),
                                station_id=record.station_id,
                                record_id=record.record_id,
                                key_id=record.key_id,
                                at=record.received_at,
                            )
                        )
                    elif insertion is Insertion.SAME:
                        outcomes.append(CommitOutcome.DUPLICATE)
                    else:
                        outcomes.append(CommitOutcome.ID_REUSED)
                        extra_audits.append(
                            AuditEntry(
                                "record_rejected",
                                "id_reused: record id reused with different content "
                                f"(stored sha256 {stored_digest[:16]}, new {record.payload_sha256[:16]})",
                                station_id=record.station_id,
                                record_id=record.record_id,
                                key_id=record.key_id,
                                at=record.received_at,
                            )
                        )
                stored_now = {
                    (r.station_id, r.record_id)
                    for r, outcome in zip(records, outcomes, strict=True)
                    if outcome is CommitOutcome.STORED
                }
                insert_in(connection, [f for f in forwards if (f.station_id, f.record_id) in stored_now])
            append_audit(connection, [*audits, *extra_audits])
        return outcomes

    def count(self, station_id: str | None = None) -> int:
        query = select(func.count()).select_from(Record)
        if station_id is not None:
            query = query.where(Record.station_id == station_id)
        with self._database.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def get(self, record_id: str, station_id: str | None = None) -> RecordRow | None:
        """The record with this id (record ids are UUIDs: unique across stations in practice; pass
        ``station_id`` to be exact)."""
        query = select(Record).where(Record.record_id == record_id).order_by(Record.seq).limit(1)
        if station_id is not None:
            query = query.where(Record.station_id == station_id)
        with self._database.read() as session:
            row = session.scalars(query).first()
            return None if row is None else RecordRow.of(row)

    def newest(self, limit: int = 50, station_id: str | None = None) -> list[RecordRow]:
        """Newest first."""
        query = select(Record).order_by(Record.seq.desc()).limit(limit)
        if station_id is not None:
            query = query.where(Record.station_id == station_id)
        with self._database.read() as session:
            return [RecordRow.of(row) for row in session.scalars(query)]

    def by_vin(self, vin: str) -> list[RecordRow]:
        """Every record of the vehicle ``vin`` stored here, oldest inspection first
        (``ix_records_vin_finished``: read in index order, no sort)."""
        query = select(Record).where(Record.vin == vin).order_by(Record.finished_at, Record.seq)
        with self._database.read() as session:
            return [RecordRow.of(row) for row in session.scalars(query)]

    def of_station_on(self, station_id: str, day: date) -> list[RecordRow]:
        """The records station ``station_id`` finished on ``day`` (UTC), in order
        (``ix_records_station_finished``)."""
        start = datetime.combine(day, time.min, tzinfo=UTC)
        query = (
            select(Record)
            .where(
                Record.station_id == station_id,
                Record.finished_at >= start,
                Record.finished_at < start + timedelta(days=1),
            )
            .order_by(Record.finished_at)
        )
        with self._database.read() as session:
            return [RecordRow.of(row) for row in session.scalars(query)]

    def committed_digests(self, records: Sequence[RecordRow]) -> dict[tuple[str, str], str]:
        """The row digest the audit log committed to for each of ``records`` (if any)."""
        return self._audit.committed_digests({record.record_id for record in records})

    def check(self, records: Sequence[RecordRow]) -> list[StoredCheck]:
        """Check each stored record again (bytes, signature, key, columns, audit commitment)."""
        keys = self._directory.known_keys()
        digests = self.committed_digests(records)
        return [
            check_stored_record(record.columns(), keys, digests.get((record.station_id, record.record_id)))
            for record in records
        ]

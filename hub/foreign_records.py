"""Records of this province's vehicles inspected in another province, as they arrived here.

Stored byte for byte: the station's envelope and the inspecting hub's countersigned body, so
any later reader can check both signatures again (``hub.forwarded_record``). The database
decides duplicates by (station id, record id), exactly as for local records: a resend of the
same body is DUPLICATE, another body under the same ids is refused and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from hub.audit import AuditEntry, append_audit
from hub.db import Database, insert_ignoring_duplicates
from hub.models import ForeignRecord

_TABLE = ForeignRecord.metadata.tables[ForeignRecord.__tablename__]

FORWARDED_IN = "record_forwarded_in"


class ForeignOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    ID_REUSED = "id_reused"


@dataclass(frozen=True, slots=True)
class ForeignRecordRow:
    """One forwarded record: the ``foreign_records`` columns minus the sequence number."""

    from_province: str
    station_id: str
    record_id: str
    key_id: str
    station_envelope: bytes
    forward_body: bytes
    hub_key_id: str
    hub_signature: bytes
    body_sha256: str
    vin: str
    plate: str
    finished_at: datetime
    received_at: datetime
    arrived_at: datetime
    directory_sequence: int
    station_overall: str | None
    inspecting_hub_overall: str | None
    hub_overall: str | None
    verdict_mismatch: bool

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FOREIGN_COLUMNS}

    @classmethod
    def of(cls, row: ForeignRecord) -> ForeignRecordRow:
        values = {name: getattr(row, name) for name in FOREIGN_COLUMNS}
        for name in ("station_envelope", "forward_body", "hub_signature"):
            values[name] = bytes(values[name])
        return cls(**values)


FOREIGN_COLUMNS = tuple(field.name for field in fields(ForeignRecordRow))


class ForeignRecordStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def commit(self, rows: Sequence[ForeignRecordRow]) -> list[ForeignOutcome]:
        """Store ``rows`` in one transaction with an audit entry for each; one outcome per row."""
        outcomes: list[ForeignOutcome] = []
        audits: list[AuditEntry] = []
        with self._database.writer.begin() as connection:
            if not rows:
                return outcomes
            statement = insert_ignoring_duplicates(connection.dialect.name, _TABLE).returning(
                _TABLE.c.station_id, _TABLE.c.record_id
            )
            inserted = {tuple(r) for r in connection.execute(statement, [row.columns() for row in rows])}
            stored: dict[tuple[str, str], str] = {}
            others = [row for row in rows if (row.station_id, row.record_id) not in inserted]
            if others:
                query = select(_TABLE.c.station_id, _TABLE.c.record_id, _TABLE.c.body_sha256).where(
                    _TABLE.c.record_id.in_({row.record_id for row in others})
                )
                stored = {(s, r): d for s, r, d in connection.execute(query)}
            claimed: set[tuple[str, str]] = set()
            for row in rows:
                key = (row.station_id, row.record_id)
                if key in inserted and key not in claimed:
                    claimed.add(key)
                    stored[key] = row.body_sha256
                    outcomes.append(ForeignOutcome.STORED)
                    audits.append(
                        AuditEntry(
                            FORWARDED_IN,
                            f"from province {row.from_province}, countersigned by {row.hub_key_id}, "
                            f"body sha256 {row.body_sha256}",
                            station_id=row.station_id,
                            record_id=row.record_id,
                            key_id=row.key_id,
                            at=row.arrived_at,
                        )
                    )
                elif stored.get(key) == row.body_sha256:
                    outcomes.append(ForeignOutcome.DUPLICATE)
                else:
                    outcomes.append(ForeignOutcome.ID_REUSED)
                    audits.append(
                        AuditEntry(
                            "forward_rejected",
                            f"id_reused: province {row.from_province} forwarded other content under a "
                            f"stored record id (stored body {stored.get(key, '?')[:16]}, new {row.body_sha256[:16]})",
                            station_id=row.station_id,
                            record_id=row.record_id,
                            key_id=row.key_id,
                            at=row.arrived_at,
                        )
                    )
            append_audit(connection, audits)
        return outcomes

    def by_vin(self, vin: str) -> list[ForeignRecordRow]:
        query = select(ForeignRecord).where(ForeignRecord.vin == vin).order_by(ForeignRecord.finished_at)
        with self._database.read() as session:
            return [ForeignRecordRow.of(row) for row in session.scalars(query)]

    def get(self, station_id: str, record_id: str) -> ForeignRecordRow | None:
        query = select(ForeignRecord).where(
            ForeignRecord.station_id == station_id, ForeignRecord.record_id == record_id
        )
        with self._database.read() as session:
            row = session.scalars(query).first()
            return None if row is None else ForeignRecordRow.of(row)

    def count(self, from_province: str | None = None) -> int:
        query = select(func.count()).select_from(ForeignRecord)
        if from_province is not None:
            query = query.where(ForeignRecord.from_province == from_province)
        with self._database.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def keys(self) -> list[tuple[str, str]]:
        """Every (station id, record id) stored, for exactly-once checks."""
        with self._database.engine.connect() as connection:
            return [
                (s, r)
                for s, r in connection.execute(select(ForeignRecord.station_id, ForeignRecord.record_id))
            ]

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

from sqlalchemy import func, select, update

from hub.audit import AuditEntry, append_audit
from hub.db import Database, Insertion, insert_once
from hub.models import ForeignRecord

_TABLE = ForeignRecord.metadata.tables[ForeignRecord.__tablename__]

FORWARDED_IN = "record_forwarded_in"


class RevokeOutcome(StrEnum):
    REVOKED = "revoked"
    ALREADY = "already"  # revoked before (a resend)
    UNKNOWN = "unknown"  # no such record forwarded here by that province


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
    revoked_at: datetime | None = None  # the inspecting province's post-review revoked the result
    revoked_reason: str | None = None

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
            insertions = insert_once(connection, _TABLE, [row.columns() for row in rows], "body_sha256")
            for row, (insertion, stored_digest) in zip(rows, insertions, strict=True):
                if insertion is Insertion.NEW:
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
                elif insertion is Insertion.SAME:
                    outcomes.append(ForeignOutcome.DUPLICATE)
                else:
                    outcomes.append(ForeignOutcome.ID_REUSED)
                    audits.append(
                        AuditEntry(
                            "forward_rejected",
                            f"id_reused: province {row.from_province} forwarded other content under a "
                            f"stored record id (stored body {stored_digest[:16]}, new {row.body_sha256[:16]})",
                            station_id=row.station_id,
                            record_id=row.record_id,
                            key_id=row.key_id,
                            at=row.arrived_at,
                        )
                    )
            append_audit(connection, audits)
        return outcomes

    def revoke(
        self, from_province: str, station_id: str, record_id: str, reason: str, at: datetime
    ) -> RevokeOutcome:
        """Mark a forwarded record's result revoked (its province's post-review rejected it), audited."""
        with self._database.writer.begin() as connection:
            row = connection.execute(
                select(_TABLE.c.from_province, _TABLE.c.revoked_at, _TABLE.c.key_id).where(
                    _TABLE.c.station_id == station_id, _TABLE.c.record_id == record_id
                )
            ).first()
            if row is None or row.from_province != from_province:
                return RevokeOutcome.UNKNOWN
            if row.revoked_at is not None:
                return RevokeOutcome.ALREADY
            connection.execute(
                update(_TABLE)
                .where(_TABLE.c.station_id == station_id, _TABLE.c.record_id == record_id)
                .values(revoked_at=at, revoked_reason=reason)
            )
            append_audit(
                connection,
                [
                    AuditEntry(
                        "forwarded_result_revoked",
                        f"province {from_province}'s post-review: {reason}",
                        station_id=station_id,
                        record_id=record_id,
                        key_id=row.key_id,
                        at=at,
                    )
                ],
            )
            return RevokeOutcome.REVOKED

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

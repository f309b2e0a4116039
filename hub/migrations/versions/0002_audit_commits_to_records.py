"""The audit chain commits to every stored record: an index to find a record's audit entries, and
a ``record_stored`` event (with the row's digest) appended for each record stored before this
revision, so ``hub audit verify`` and every reader can tell an edited or deleted record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from hub.audit import audit_hash
from hub.models import AuditEvent, AuditHead, Record
from hub.record_integrity import RECORD_STORED, stored_event_detail, stored_row_digest

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_record_id", "audit_events", ["record_id"])
    connection = op.get_bind()
    # The chain head is locked by the migration's transaction (PostgreSQL: advisory lock and this
    # row lock; SQLite: BEGIN IMMEDIATE), so no hub appends while the backfill runs.
    seq, previous = connection.execute(
        sa.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    now = datetime.now(UTC)
    batch: list[dict[str, object]] = []
    records = connection.execute(sa.select(Record.__table__).order_by(Record.__table__.c.seq)).all()
    for row in records:
        columns = row._mapping
        seq += 1
        detail = stored_event_detail(stored_row_digest(columns))
        station_id, record_id, key_id = columns["station_id"], columns["record_id"], columns["key_id"]
        digest = audit_hash(seq, now, RECORD_STORED, station_id, record_id, key_id, detail, previous)
        batch.append(
            {
                "seq": seq,
                "at": now,
                "kind": RECORD_STORED,
                "station_id": station_id,
                "record_id": record_id,
                "key_id": key_id,
                "detail": detail,
                "prev_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
        if len(batch) >= 1000:
            connection.execute(sa.insert(AuditEvent), batch)
            batch = []
    if batch:
        connection.execute(sa.insert(AuditEvent), batch)
    connection.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=previous))


def downgrade() -> None:
    # The record_stored events stay: the chain is append-only.
    op.drop_index("ix_audit_events_record_id", "audit_events")

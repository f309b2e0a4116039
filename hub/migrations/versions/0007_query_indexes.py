"""Indexes for the queries a province runs at scale (docs/scale.md): a vehicle's records in
inspection order, a station's records of one day, and the forwarding outbox's sendable items.

- ``ix_records_vin_finished`` (vin, finished_at, seq) replaces ``ix_records_vin``: ``by_vin``
  reads the rows in index order instead of sorting them;
- ``ix_records_station_finished`` (station_id, finished_at): one station's day is a range scan;
- ``ix_forward_outbox_sendable`` (to_province, id) over the items neither delivered nor parked
  replaces ``ix_forward_outbox_pending``: delivered items are kept for the record's journey and
  outnumber the pending ones by far, so a partial index stays as small as the backlog.

Revision ID: 0007
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SENDABLE = sa.text("delivered_at IS NULL AND parked_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_records_vin", table_name="records")
    op.create_index("ix_records_vin_finished", "records", ["vin", "finished_at", "seq"])
    op.create_index("ix_records_station_finished", "records", ["station_id", "finished_at"])
    op.drop_index("ix_forward_outbox_pending", table_name="forward_outbox")
    op.create_index(
        "ix_forward_outbox_sendable",
        "forward_outbox",
        ["to_province", "id"],
        postgresql_where=_SENDABLE,
        sqlite_where=_SENDABLE,
    )


def downgrade() -> None:
    op.drop_index("ix_forward_outbox_sendable", table_name="forward_outbox")
    op.create_index(
        "ix_forward_outbox_pending", "forward_outbox", ["to_province", "delivered_at", "parked_at", "id"]
    )
    op.drop_index("ix_records_station_finished", table_name="records")
    op.drop_index("ix_records_vin_finished", table_name="records")
    op.create_index("ix_records_vin", "records", ["vin"])

"""Post-review: the review queue and its cursor, what the screener keeps for the anomaly rules
(screened records, photo hashes, curve fingerprints, per-station day counts), and revocations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    cursor = op.create_table(
        "review_cursor",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(cursor, [{"id": 1, "last_seq": 0}])
    op.create_table(
        "screened_records",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("last_counter", sa.Integer(), nullable=True),
    )
    op.create_index("ix_screened_records_vin_started", "screened_records", ["vin", "started_at"])
    op.create_index(
        "ix_screened_records_lane_finished", "screened_records", ["station_id", "lane", "finished_at"]
    )
    op.create_index("ix_screened_records_station_day", "screened_records", ["station_id", "day"])
    op.create_table(
        "photo_hashes",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("record_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("vin", sa.String(17), nullable=False),
    )
    op.create_table(
        "curve_fingerprints",
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("record_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("run", sa.String(32), primary_key=True),
        sa.Column("vin", sa.String(17), nullable=False),
    )
    op.create_table(
        "station_days",
        sa.Column("station_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("inspected", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
    )
    op.create_index("ix_station_days_day", "station_days", ["day"])
    op.create_table(
        "review_items",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("record_seq", sa.BigInteger(), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("queued_at", _ts(), nullable=False),
        sa.Column("deadline", _ts(), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("lease_until", _ts(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("record_seq", name="uq_review_items_record"),
    )
    op.create_index("ix_review_items_open", "review_items", ["state", "province", "deadline", "id"])
    op.create_index("ix_review_items_lease", "review_items", ["state", "lease_until"])
    op.create_table(
        "record_revocations",
        sa.Column("record_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=False),
        sa.Column("revoked_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("review_item_id", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_record_revocations_record_id", "record_revocations", ["record_id"])


def downgrade() -> None:
    for table in (
        "record_revocations",
        "review_items",
        "station_days",
        "curve_fingerprints",
        "photo_hashes",
        "screened_records",
        "review_cursor",
    ):
        op.drop_table(table)

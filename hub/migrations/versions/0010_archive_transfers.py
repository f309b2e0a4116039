"""Archive transfers between province hubs (异地转籍): one row per transfer at each end.

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_transfers",
        sa.Column("transfer_id", sa.String(36), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("from_province", sa.String(2), nullable=False),
        sa.Column("to_province", sa.String(2), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_plate", sa.String(16), nullable=True),
        sa.Column("new_plate", sa.String(16), nullable=True),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_file", sa.Integer(), nullable=False),
        sa.Column("confirmed_offset", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_bytes", sa.BigInteger(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("identity", sa.JSON(), nullable=True),
        sa.Column("archive_vehicle", sa.JSON(), nullable=True),
        sa.Column("bag_path", sa.Text(), nullable=True),
        sa.Column("source_told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_archive_transfers_vin", "archive_transfers", ["vin", "state"])
    op.create_index("ix_archive_transfers_open", "archive_transfers", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_table("archive_transfers")

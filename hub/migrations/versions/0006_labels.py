"""E-labels: every inspection and exemption label this hub issued or, for its own vehicles,
recorded (with its signed text and revocation); the label issuer's cursor over records.seq; and
each registered vehicle's standing for exemption (insurance, tax, violations, accidents).

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("serial", sa.String(64), primary_key=True),
        sa.Column("label_type", sa.String(16), nullable=False),
        sa.Column("record_seq", sa.BigInteger(), nullable=True),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("vehicle_class", sa.String(8), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("issuer_province", sa.String(2), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.UniqueConstraint("record_seq", name="uq_labels_record"),
        sa.UniqueConstraint("vin", "due_date", name="uq_labels_exemption_due"),
    )
    op.create_index("ix_labels_vin", "labels", ["vin"])
    op.create_index("ix_labels_revoked_at", "labels", ["revoked_at"])
    cursor = op.create_table(
        "label_issuer_cursor",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(cursor, [{"id": 1, "seq": 0}])
    op.create_table(
        "vehicle_standing",
        sa.Column("vin", sa.String(17), primary_key=True),
        sa.Column("insurance_valid_until", sa.Date(), nullable=True),
        sa.Column("vehicle_tax_paid", sa.Boolean(), nullable=False),
        sa.Column("unresolved_violations", sa.Integer(), nullable=False),
        sa.Column("unresolved_accidents", sa.Integer(), nullable=False),
        sa.Column("casualty_accident", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vehicle_standing")
    op.drop_table("label_issuer_cursor")
    op.drop_index("ix_labels_revoked_at", table_name="labels")
    op.drop_index("ix_labels_vin", table_name="labels")
    op.drop_table("labels")

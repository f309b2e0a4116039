"""Post-review decisions travel to the registration province: outbox items have a kind (a record,
or a review outcome about one), and a forwarded record's result can be revoked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot drop a constraint in place (Alembic copies the table).
    with op.batch_alter_table("forward_outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="record"))
        batch.drop_constraint("uq_forward_outbox_record", type_="unique")
        batch.create_unique_constraint(
            "uq_forward_outbox_item", ["to_province", "kind", "station_id", "record_id"]
        )
    with op.batch_alter_table("foreign_records") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("foreign_records") as batch:
        batch.drop_column("revoked_reason")
        batch.drop_column("revoked_at")
    with op.batch_alter_table("forward_outbox") as batch:
        batch.drop_constraint("uq_forward_outbox_item", type_="unique")
        batch.create_unique_constraint("uq_forward_outbox_record", ["to_province", "station_id", "record_id"])
        batch.drop_column("kind")

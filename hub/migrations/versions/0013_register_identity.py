"""The vehicle register's engine number and body colour (inspection.register_identity), compared
by the registry clerk's identity check of an archive transfer; NULL for rows imported before.

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vehicles") as table:
        table.add_column(sa.Column("engine_number", sa.String(32), nullable=True))
        table.add_column(sa.Column("colour", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vehicles") as table:
        table.drop_column("colour")
        table.drop_column("engine_number")

"""The audit log as a Merkle tree (RFC 9162): this hub's signed checkpoints of it, and the newest
checkpoint each peer province showed this hub (witnessing, docs/design/audit-log.md).

Revision ID: 0005
Revises: 0004 (written against 0003; chained after post-review's 0004 when both met on one branch)
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", _ts(), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "peer_checkpoints",
        sa.Column("province", sa.String(2), primary_key=True),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", _ts(), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("alarm_at", _ts(), nullable=True),
        sa.Column("alarm", sa.Text(), nullable=True),
        sa.Column("refused_body", sa.LargeBinary(), nullable=True),
        sa.Column("refused_signature", sa.LargeBinary(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("peer_checkpoints")
    op.drop_table("audit_checkpoints")

"""Initial hub schema: stations, station keys, records, audit log and its chain head.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_GENESIS = "0" * 64


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("station_id", sa.String(64), primary_key=True),
        sa.Column("province", sa.String(2), nullable=True),
        sa.Column("registered_at", _ts(), nullable=False),
    )
    op.create_table(
        "station_keys",
        sa.Column("key_id", sa.String(96), primary_key=True),
        sa.Column("station_id", sa.String(64), sa.ForeignKey("stations.station_id"), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", _ts(), nullable=False),
        sa.Column("valid_from", _ts(), nullable=True),
        sa.Column("valid_until", _ts(), nullable=True),
        sa.Column("revoked_at", _ts(), nullable=True),
    )
    op.create_index("ix_station_keys_station_id", "station_keys", ["station_id"])
    op.create_table(
        "records",
        sa.Column("seq", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("finished_at", _ts(), nullable=False),
        sa.Column("station_overall", sa.String(16), nullable=True),
        sa.Column("hub_overall", sa.String(16), nullable=True),
        sa.Column("hub_verdict", sa.JSON(), nullable=True),
        sa.Column("verdict_mismatch", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("station_id", "record_id", name="uq_records_station_record"),
    )
    op.create_index("ix_records_record_id", "records", ["record_id"])
    op.create_index("ix_records_received_at", "records", ["received_at"])
    op.create_index("ix_records_vin", "records", ["vin"])
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=True),
        sa.Column("record_id", sa.String(36), nullable=True),
        sa.Column("key_id", sa.String(96), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_kind", "audit_events", ["kind"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": _GENESIS}])


def downgrade() -> None:
    for table in ("audit_head", "audit_events", "records", "station_keys", "stations"):
        op.drop_table(table)

"""Federation: the province's vehicle register, the national trust list, peers' station
directories, the directory's sequence number, the hub-to-hub forwarding outbox and the records
other provinces forwarded here (docs/design/federation.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vehicles",
        sa.Column("vin", sa.String(17), primary_key=True),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("owner_ref", sa.String(64), nullable=False),
        sa.Column("vehicle_class", sa.String(8), nullable=False),
        sa.Column("use", sa.String(32), nullable=False),
        sa.Column("fuel", sa.String(32), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("registration_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
    )
    op.create_index("ix_vehicles_plate", "vehicles", ["plate"])
    sequence = op.create_table(
        "directory_sequence",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(sequence, [{"id": 1, "sequence": 0}])
    op.create_table(
        "trust_lists",
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("not_after", _ts(), nullable=False),
        sa.Column("installed_at", _ts(), nullable=False),
    )
    op.create_table(
        "peer_directories",
        sa.Column("province", sa.String(2), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", _ts(), nullable=False),
        sa.Column("valid_until", _ts(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
    )
    op.create_table(
        "forward_outbox",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("to_province", sa.String(2), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _ts(), nullable=True),
        sa.Column("delivered_at", _ts(), nullable=True),
        sa.Column("delivered_status", sa.String(16), nullable=True),
        sa.Column("parked_at", _ts(), nullable=True),
        sa.Column("parked_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("to_province", "station_id", "record_id", name="uq_forward_outbox_record"),
    )
    op.create_index(
        "ix_forward_outbox_pending", "forward_outbox", ["to_province", "delivered_at", "parked_at", "id"]
    )
    op.create_index("ix_forward_outbox_vin", "forward_outbox", ["vin"])
    op.create_table(
        "foreign_records",
        sa.Column("seq", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("from_province", sa.String(2), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(96), nullable=False),
        sa.Column("station_envelope", sa.LargeBinary(), nullable=False),
        sa.Column("forward_body", sa.LargeBinary(), nullable=False),
        sa.Column("hub_key_id", sa.String(96), nullable=False),
        sa.Column("hub_signature", sa.LargeBinary(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("finished_at", _ts(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("arrived_at", _ts(), nullable=False),
        sa.Column("directory_sequence", sa.BigInteger(), nullable=False),
        sa.Column("station_overall", sa.String(16), nullable=True),
        sa.Column("inspecting_hub_overall", sa.String(16), nullable=True),
        sa.Column("hub_overall", sa.String(16), nullable=True),
        sa.Column("verdict_mismatch", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("station_id", "record_id", name="uq_foreign_records_station_record"),
    )
    op.create_index("ix_foreign_records_vin", "foreign_records", ["vin"])


def downgrade() -> None:
    for table in (
        "foreign_records",
        "forward_outbox",
        "peer_directories",
        "trust_lists",
        "directory_sequence",
        "vehicles",
    ):
        op.drop_table(table)

"""The hub's tables as typed SQLAlchemy models: stations, their keys, records, and the audit log.

The schema itself is owned by the Alembic migrations in ``hub/migrations``; these models must
match them (a test compares the two on SQLite and PostgreSQL).

Timestamps are stored as UTC. SQLite has no time zone type, so ``UtcDateTime`` strips the zone
on the way in and puts UTC back on the way out; PostgreSQL gets ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
BigId = BigInteger().with_variant(Integer(), "sqlite")

AUDIT_GENESIS_HASH = "0" * 64  # the "previous hash" of the first audit row


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Station(Base):
    __tablename__ = "stations"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    province: Mapped[str | None] = mapped_column(String(2))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StationKey(Base):
    __tablename__ = "station_keys"

    key_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary())  # raw 32-byte Ed25519 key
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Record(Base):
    """One accepted record: the exact signed bytes plus columns extracted for search and review."""

    __tablename__ = "records"
    # Duplicates are decided here, by the database, so stateless replicas agree.
    __table_args__ = (UniqueConstraint("station_id", "record_id", name="uq_records_station_record"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    key_id: Mapped[str] = mapped_column(String(96))
    payload: Mapped[bytes] = mapped_column(LargeBinary())
    payload_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    vin: Mapped[str] = mapped_column(String(17), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
    station_overall: Mapped[str | None] = mapped_column(String(16))
    hub_overall: Mapped[str | None] = mapped_column(String(16))
    hub_verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON())
    verdict_mismatch: Mapped[bool] = mapped_column(Boolean(), default=False)


class AuditEvent(Base):
    """Append-only; ``hash`` = sha256 over this row's content and ``prev_hash`` (``hub.audit``)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32), index=True)
    station_id: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(36), index=True)
    key_id: Mapped[str | None] = mapped_column(String(96))
    detail: Mapped[str] = mapped_column(Text())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row (id 1): the chain's last seq and hash. Appenders lock it, which serialises
    appends across replicas, and it lets verification notice rows cut off the end of the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger())
    hash: Mapped[str] = mapped_column(String(64))

"""The hub's tables as typed SQLAlchemy models: stations, their keys, records, the audit log, and
federation (vehicle register, trust list, peer directories, forwarding outbox, forwarded records).

The schema itself is owned by the Alembic migrations in ``hub/migrations``; these models must
match them (a test compares the two on SQLite and PostgreSQL).

Timestamps are stored as UTC. SQLite has no time zone type, so ``UtcDateTime`` strips the zone
on the way in and puts UTC back on the way out; PostgreSQL gets ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
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
    __table_args__ = (
        UniqueConstraint("station_id", "record_id", name="uq_records_station_record"),
        # A vehicle's records in inspection order (by_vin), a station's day (of_station_on).
        Index("ix_records_vin_finished", "vin", "finished_at", "seq"),
        Index("ix_records_station_finished", "station_id", "finished_at"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    key_id: Mapped[str] = mapped_column(String(96))
    payload: Mapped[bytes] = mapped_column(LargeBinary())
    payload_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    vin: Mapped[str] = mapped_column(String(17))
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


# ---------------------------------------------------------------- federation (migration 0003)


class Vehicle(Base):
    """The province's vehicle register: one row per vehicle registered here (or moving away)."""

    __tablename__ = "vehicles"

    vin: Mapped[str] = mapped_column(String(17), primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    owner_ref: Mapped[str] = mapped_column(String(64))  # a reference, never the owner's name or id number
    vehicle_class: Mapped[str] = mapped_column(String(8))
    use: Mapped[str] = mapped_column(String(32))
    fuel: Mapped[str] = mapped_column(String(32))
    seats: Mapped[int] = mapped_column(Integer())
    registration_date: Mapped[date] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(24))  # active / transferring / transferred_out
    facts: Mapped[dict[str, Any]] = mapped_column(JSON())  # every other vehicle field (vehicle_fields)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The register's identity fields (inspection.register_identity); NULL: not recorded.
    engine_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    colour: Mapped[str | None] = mapped_column(String(16), nullable=True)


class DirectorySequence(Base):
    """A single row (id 1): bumped in the same transaction as every station key change, so the
    signed station directory's sequence number grows with it on every replica."""

    __tablename__ = "directory_sequence"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger())


class TrustListRow(Base):
    """Every national trust list this hub installed or fetched; the newest valid one is in force."""

    __tablename__ = "trust_lists"

    version: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary())
    key_id: Mapped[str] = mapped_column(String(96))
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PeerDirectoryRow(Base):
    """The newest signed station directory received from each peer province."""

    __tablename__ = "peer_directories"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger())
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime())
    body: Mapped[bytes] = mapped_column(LargeBinary())
    key_id: Mapped[str] = mapped_column(String(96))
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ForwardOutboxItem(Base):
    """A countersigned record waiting for (or delivered to) its registration province's hub.

    Written in the same transaction as the record itself. Delivered items are kept (with their
    status) so the hub can show a record's journey; parked ones wait for an operator."""

    __tablename__ = "forward_outbox"
    __table_args__ = (
        UniqueConstraint("to_province", "kind", "station_id", "record_id", name="uq_forward_outbox_item"),
        # Only what is still to send: delivered items are kept and soon far outnumber the backlog.
        Index(
            "ix_forward_outbox_sendable",
            "to_province",
            "id",
            postgresql_where=text("delivered_at IS NULL AND parked_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL AND parked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    to_province: Mapped[str] = mapped_column(String(2))
    # "record": body is a ForwardBody; "review": a ReviewOutcome about that record (migration 0009)
    kind: Mapped[str] = mapped_column(String(16), server_default="record")
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36))
    vin: Mapped[str] = mapped_column(String(17), index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary())  # a serialized ForwardBody or ReviewOutcome
    key_id: Mapped[str] = mapped_column(String(96))  # this hub's key that countersigned it
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_status: Mapped[str | None] = mapped_column(String(16))
    parked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    parked_reason: Mapped[str | None] = mapped_column(Text())


class ForeignRecord(Base):
    """A record of one of this province's vehicles, inspected in another province and forwarded
    here: the station's envelope and the inspecting hub's countersigned body, byte for byte."""

    __tablename__ = "foreign_records"
    __table_args__ = (UniqueConstraint("station_id", "record_id", name="uq_foreign_records_station_record"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    from_province: Mapped[str] = mapped_column(String(2))
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36))
    key_id: Mapped[str] = mapped_column(String(96))  # the station's key
    station_envelope: Mapped[bytes] = mapped_column(LargeBinary())  # serialized SignedRecord
    forward_body: Mapped[bytes] = mapped_column(LargeBinary())  # serialized ForwardBody
    hub_key_id: Mapped[str] = mapped_column(String(96))  # the inspecting hub's key
    hub_signature: Mapped[bytes] = mapped_column(LargeBinary())
    body_sha256: Mapped[str] = mapped_column(String(64))  # of forward_body: tells a resend from a clash
    vin: Mapped[str] = mapped_column(String(17), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())  # at the inspecting hub
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime())  # here
    directory_sequence: Mapped[int] = mapped_column(BigInteger())
    station_overall: Mapped[str | None] = mapped_column(String(16))
    inspecting_hub_overall: Mapped[str | None] = mapped_column(String(16))
    hub_overall: Mapped[str | None] = mapped_column(String(16))  # this hub's own recomputation
    verdict_mismatch: Mapped[bool] = mapped_column(Boolean(), default=False)
    # The inspecting province's post-review revoked the result (migration 0009).
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text())


# ---------------------------------------------------------------- post-review (migration 0004)


class ReviewCursor(Base):
    """A single row (id 1): every record up to ``last_seq`` has been screened. Screeners lock it,
    so two replicas never screen at once (``hub.review_queue``)."""

    __tablename__ = "review_cursor"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger())


class ScreenedRecord(Base):
    """What the screener learnt of a record (its ``records.seq``), kept for the rules that compare
    a record with others: overlapping visits by VIN, the lane's previous TEST_COUNTER."""

    __tablename__ = "screened_records"
    __table_args__ = (
        Index("ix_screened_records_vin_started", "vin", "started_at"),
        Index("ix_screened_records_lane_finished", "station_id", "lane", "finished_at"),
        Index("ix_screened_records_station_day", "station_id", "day"),
    )

    seq: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36))
    lane: Mapped[int] = mapped_column(Integer())
    vin: Mapped[str] = mapped_column(String(17))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
    day: Mapped[date] = mapped_column(Date())  # in the station's local time
    outcome: Mapped[str | None] = mapped_column(String(16))  # the hub's verdict
    last_counter: Mapped[int | None] = mapped_column(Integer())  # the lane's brake bench, last run


class PhotoHash(Base):
    """Every photo of every screened record, by content hash (the shared-photo rule's index)."""

    __tablename__ = "photo_hashes"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_seq: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    vin: Mapped[str] = mapped_column(String(17))


class CurveFingerprint(Base):
    """Every brake run's shape hash (``hub.anomaly_rules.curve_fingerprint``), the copied-curve index."""

    __tablename__ = "curve_fingerprints"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_seq: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    run: Mapped[str] = mapped_column(String(32), primary_key=True)
    vin: Mapped[str] = mapped_column(String(17))


class StationDay(Base):
    """Per station and local day: records screened, passed (hub verdict), sampled for review."""

    __tablename__ = "station_days"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True, index=True)
    inspected: Mapped[int] = mapped_column(Integer())
    passed: Mapped[int] = mapped_column(Integer())
    sampled: Mapped[int] = mapped_column(Integer())


class ReviewItem(Base):
    """One record queued for post-review; ``state`` follows ``hub.review_states``."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("record_seq", name="uq_review_items_record"),
        Index("ix_review_items_open", "state", "province", "deadline", "id"),
        Index("ix_review_items_lease", "state", "lease_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_seq: Mapped[int] = mapped_column(BigInteger())
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36))
    vin: Mapped[str] = mapped_column(String(17))
    province: Mapped[str] = mapped_column(String(2))  # the station's: a reviewer's scope
    state: Mapped[str] = mapped_column(String(24))
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON())  # [{"rule": .., "reason": ..}]
    sampled: Mapped[bool] = mapped_column(Boolean())
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())  # unclaimed past it: escalated
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text())


class RecordRevocation(Base):
    """A record whose inspection result a reviewer rejected: the result no longer stands."""

    __tablename__ = "record_revocations"

    record_seq: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    station_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text())
    review_item_id: Mapped[int] = mapped_column(BigInteger())


# ---------------------------------------------------------------- the audit log's Merkle tree (migration 0005)


class AuditCheckpoint(Base):
    """A signed checkpoint of this hub's audit log: the RFC 9162 tree of its first ``tree_size``
    entries has root ``root_hash``. ``body`` is the exact signed note text (``hub.audit_checkpoint``).
    ``frontier``: the tree's compact range at this size (32-byte hashes, largest subtree first), so
    the next checkpoint and proofs from this size read only the entries after it; it must make
    the signed root, which is checked before use."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    key_id: Mapped[str] = mapped_column(String(96))
    body: Mapped[bytes] = mapped_column(LargeBinary())
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    frontier: Mapped[bytes] = mapped_column(LargeBinary())


class PeerCheckpoint(Base):
    """The newest checkpoint of a peer province's audit log this hub accepted (witnessed), and the
    alarm, if the peer later showed a checkpoint its old one is not a prefix of (kept as evidence)."""

    __tablename__ = "peer_checkpoints"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger())
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    key_id: Mapped[str] = mapped_column(String(96))
    body: Mapped[bytes] = mapped_column(LargeBinary())
    signature: Mapped[bytes] = mapped_column(LargeBinary())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    alarm_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    alarm: Mapped[str | None] = mapped_column(Text())
    refused_body: Mapped[bytes | None] = mapped_column(LargeBinary())
    refused_signature: Mapped[bytes | None] = mapped_column(LargeBinary())


# ---------------------------------------------------------------- e-labels (migration 0006)


class Label(Base):
    """One label this hub issued: its signed text (``elabel``) and, once revoked, when and why.

    An inspection label names the record it was issued for (``record_seq``, unique: issuing twice,
    also from two replicas, stores one label); an exemption label's serial is derived from the
    vehicle and its due point, so an application decided twice is stored once."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("record_seq", name="uq_labels_record"),
        # One exemption label per vehicle and due point, whichever hub issued it.
        UniqueConstraint("vin", "due_date", name="uq_labels_exemption_due"),
    )

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    label_type: Mapped[str] = mapped_column(String(16))
    record_seq: Mapped[int | None] = mapped_column(BigInteger())
    vin: Mapped[str] = mapped_column(String(17), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    vehicle_class: Mapped[str] = mapped_column(String(8))
    valid_from: Mapped[date] = mapped_column(Date())
    valid_until: Mapped[date] = mapped_column(Date())
    issuer_province: Mapped[str] = mapped_column(String(2))
    key_id: Mapped[str] = mapped_column(String(96))  # hex of the COSE kid
    token: Mapped[str] = mapped_column(Text())
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text())
    due_date: Mapped[date | None] = mapped_column(Date())  # exemption labels: the due point answered


class LabelIssuerCursor(Base):
    """A single row (id 1): records up to this seq have been considered for a label."""

    __tablename__ = "label_issuer_cursor"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger())


class VehicleStanding(Base):
    """What the registration province knows of a vehicle beyond the register, for exemption:
    compulsory insurance (交强险), vehicle tax, unresolved violations and accidents, and whether it
    was ever in an accident with casualties."""

    __tablename__ = "vehicle_standing"

    vin: Mapped[str] = mapped_column(String(17), primary_key=True)
    insurance_valid_until: Mapped[date | None] = mapped_column(Date())
    vehicle_tax_paid: Mapped[bool] = mapped_column(Boolean())
    unresolved_violations: Mapped[int] = mapped_column(Integer())
    unresolved_accidents: Mapped[int] = mapped_column(Integer())
    casualty_accident: Mapped[bool] = mapped_column(Boolean())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StationNotice(Base):
    """Something the hub tells one station after the fact (migration 0008, ``hub.station_notices``)."""

    __tablename__ = "station_notices"
    __table_args__ = (Index("ix_station_notices_station_seq", "station_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(Text())
    at: Mapped[datetime] = mapped_column(UtcDateTime())


# ---------------------------------------------------------------- archive transfers (migration 0010)


class ArchiveTransfer(Base):
    """One archive transfer (异地转籍) as this hub sees it, at the source or at the destination;
    ``state`` follows ``hub.transfer_states``, and only ``hub.transfer_book`` writes it."""

    __tablename__ = "archive_transfers"
    __table_args__ = (
        Index("ix_archive_transfers_vin", "vin", "state"),
        Index("ix_archive_transfers_open", "state", "expires_at"),
    )

    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # "source" or "destination": which end this hub is
    vin: Mapped[str] = mapped_column(String(17))
    from_province: Mapped[str] = mapped_column(String(2))
    to_province: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text())
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    old_plate: Mapped[str | None] = mapped_column(String(16))
    new_plate: Mapped[str | None] = mapped_column(String(16))
    # The bag's files in sending order, [[path, size], ...], once the source offered it.
    files: Mapped[list[Any] | None] = mapped_column(JSON())
    total_bytes: Mapped[int] = mapped_column(BigInteger(), default=0)
    # The destination's last confirmed (durable) position: whole files before confirmed_file,
    # confirmed_offset bytes of that one.
    confirmed_file: Mapped[int] = mapped_column(Integer(), default=0)
    confirmed_offset: Mapped[int] = mapped_column(BigInteger(), default=0)
    confirmed_bytes: Mapped[int] = mapped_column(BigInteger(), default=0)
    problems: Mapped[list[str] | None] = mapped_column(JSON())  # bag items that did not verify
    identity: Mapped[dict[str, Any] | None] = mapped_column(JSON())  # the latest identity check
    archive_vehicle: Mapped[dict[str, Any] | None] = mapped_column(JSON())  # data/vehicle.json, imported
    bag_path: Mapped[str | None] = mapped_column(
        Text()
    )  # source: the exported bag; destination: the imported one
    # Destination: when the source hub confirmed it knows how the transfer ended.
    source_told_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Destination: which hub replica fetches the bag, until when (hub.transfer_book.claim_fetch).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ConsoleStaff(Base):
    """A person who signs in to the staff console (``hub.console``): their role and an Argon2id
    hash of the password the hub issued them (the hash string carries its own parameters)."""

    __tablename__ = "console_staff"

    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(Text())
    # Random per issue: a re-issued or revoked password ends the sessions opened with the old one.
    stamp: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConsoleSession(Base):
    """A signed-in console session, kept in the database so every hub replica knows it. The
    cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    stamp: Mapped[str] = mapped_column(String(32))  # the credential's stamp at sign-in
    csrf_token: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)

"""The hub-to-hub outbox: countersigned records waiting for their registration province's hub.

An item is written in the same transaction as the record it forwards (``insert_in``, called by
``RecordStore.commit_batch`` for records it stored), so a record is never stored without its
forwarding item nor forwarded without being stored. The forwarder (``hub.forwarder``) leases
items, sends them, and settles each by the peer's answer:

==================  =====================================================================
ACCEPTED/DUPLICATE  delivered: ``delivered_at`` and ``delivered_status`` set; kept, for the
                    record's journey (``tongjian hub forwards show``)
UNKNOWN_VEHICLE,    parked with the peer's reason, for an operator to see and ``retry``
WRONG_PROVINCE,
REJECTED
RETRY_LATER, no     the lease is released; the item goes again on the next round
answer
==================  =====================================================================

Leases make several hub replicas on one PostgreSQL drain one outbox without sending an item
twice at the same time (``FOR UPDATE SKIP LOCKED``); an item whose sender died is leased again
when its lease runs out. A copy that still arrives twice (a sender died after sending, before
settling) is answered DUPLICATE by the registration hub, which stores by (station, record id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from hub.db import Database, insert_ignoring_duplicates
from hub.models import ForwardOutboxItem

_TABLE = ForwardOutboxItem.metadata.tables[ForwardOutboxItem.__tablename__]  # typed Table, not FromClause


@dataclass(frozen=True, slots=True)
class ForwardRow:
    """An item to put in the outbox together with the record it forwards."""

    to_province: str
    station_id: str
    record_id: str
    vin: str
    body: bytes  # a serialized ForwardBody
    key_id: str  # this hub's key that countersigned ``body``
    signature: bytes
    created_at: datetime
    kind: str = "record"  # RECORD, or REVIEW: a post-review outcome about that record


RECORD = "record"
REVIEW = "review"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    to_province: str
    station_id: str
    record_id: str
    vin: str
    body: bytes
    key_id: str
    signature: bytes
    created_at: datetime
    attempts: int
    delivered_at: datetime | None
    delivered_status: str | None
    parked_at: datetime | None
    parked_reason: str | None
    kind: str = RECORD

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return f"delivered ({self.delivered_status})"
        if self.parked_at is not None:
            return "parked"
        return "pending"

    @classmethod
    def of(cls, row: ForwardOutboxItem | Row[Any]) -> OutboxItem:
        return cls(
            id=row.id,
            to_province=row.to_province,
            station_id=row.station_id,
            record_id=row.record_id,
            vin=row.vin,
            body=bytes(row.body),
            key_id=row.key_id,
            signature=bytes(row.signature),
            created_at=row.created_at,
            attempts=row.attempts,
            delivered_at=row.delivered_at,
            delivered_status=row.delivered_status,
            parked_at=row.parked_at,
            parked_reason=row.parked_reason,
            kind=row.kind,
        )


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    parked: int
    delivered: int


def insert_in(connection: Connection, rows: Sequence[ForwardRow]) -> None:
    """Add ``rows`` inside the caller's transaction; an item already there is left as it is."""
    if not rows:
        return
    statement = insert_ignoring_duplicates(connection.dialect.name, _TABLE)
    connection.execute(
        statement,
        [
            {
                "to_province": row.to_province,
                "station_id": row.station_id,
                "record_id": row.record_id,
                "vin": row.vin,
                "body": row.body,
                "key_id": row.key_id,
                "signature": row.signature,
                "created_at": row.created_at,
                "attempts": 0,
                "kind": row.kind,
            }
            for row in rows
        ],
    )


def forwarded_to_in(connection: Connection, station_id: str, record_id: str) -> tuple[str, str] | None:
    """The province (and VIN) a stored record was forwarded to; None for a local vehicle's record."""
    row = connection.execute(
        select(ForwardOutboxItem.to_province, ForwardOutboxItem.vin).where(
            ForwardOutboxItem.station_id == station_id,
            ForwardOutboxItem.record_id == record_id,
            ForwardOutboxItem.kind == RECORD,
        )
    ).first()
    return None if row is None else (str(row[0]), str(row[1]))


def _sendable(now: datetime) -> object:
    return and_(
        ForwardOutboxItem.delivered_at.is_(None),
        ForwardOutboxItem.parked_at.is_(None),
        or_(ForwardOutboxItem.lease_until.is_(None), ForwardOutboxItem.lease_until < now),
    )


def _bookkeeping(session: Session | Connection) -> None:
    """Leases and delivery marks need not wait for a disk flush (PostgreSQL): losing the last few
    in a crash only means those items are sent again, and the peer answers DUPLICATE. The items
    themselves are written with the record, durably."""
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def _mark_delivered(session: Session | Connection, settled: Sequence[tuple[int, str]], now: datetime) -> None:
    for status in {status for _, status in settled}:
        ids = [item_id for item_id, item_status in settled if item_status == status]
        session.execute(
            update(ForwardOutboxItem)
            .where(ForwardOutboxItem.id.in_(ids))
            .values(delivered_at=now, delivered_status=status, lease_owner=None, lease_until=None)
        )


class ForwardOutbox:
    def __init__(self, database: Database) -> None:
        self._database = database

    def provinces_with_work(self, now: datetime) -> list[str]:
        """Provinces that have items to send now (not delivered, not parked, not leased)."""
        query = select(ForwardOutboxItem.to_province).where(_sendable(now)).distinct()  # type: ignore[arg-type]
        with self._database.engine.connect() as connection:
            return sorted(connection.execute(query).scalars())

    def lease(
        self,
        to_province: str,
        owner: str,
        limit: int,
        lease: timedelta,
        now: datetime,
        settle: Sequence[tuple[int, str]] = (),
    ) -> list[OutboxItem]:
        """Mark ``settle`` delivered, then lease up to ``limit`` of the oldest sendable items for
        ``to_province`` to ``owner`` - one transaction, so a busy link pays one commit per round."""
        # Core, not the ORM: a round is on the forwarder's path to every Ack, and the ORM's
        # loading and flushing item by item held SQLite's one write lock 17 ms a round.
        table = ForwardOutboxItem.metadata.tables[ForwardOutboxItem.__tablename__]  # typed Table
        with self._database.writer.begin() as connection:
            _bookkeeping(connection)
            _mark_delivered(connection, settle, now)
            if limit <= 0:
                return []
            query = (
                select(table)
                .where(table.c.to_province == to_province, _sendable(now))  # type: ignore[arg-type]
                .order_by(table.c.id)
                .limit(limit)
            )
            if self._database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            items = [OutboxItem.of(row) for row in connection.execute(query)]
            if items:
                connection.execute(
                    update(table)
                    .where(table.c.id.in_([item.id for item in items]))
                    .values(lease_owner=owner, lease_until=now + lease, attempts=table.c.attempts + 1)
                )
            return [dataclasses.replace(item, attempts=item.attempts + 1) for item in items]

    def delivered(self, settled: Sequence[tuple[int, str]], now: datetime) -> None:
        """Mark items delivered with the peer's status (``accepted`` or ``duplicate``)."""
        if settled:
            with self._database.write() as session:
                _bookkeeping(session)
                _mark_delivered(session, settled, now)

    def finish(self, settled: Sequence[tuple[int, str]], unanswered: Sequence[int], now: datetime) -> None:
        """A link ends: mark what the peer answered delivered and give back what it did not."""
        if not settled and not unanswered:
            return
        with self._database.write() as session:
            _bookkeeping(session)
            _mark_delivered(session, settled, now)
            if unanswered:
                session.execute(
                    update(ForwardOutboxItem)
                    .where(ForwardOutboxItem.id.in_(unanswered), ForwardOutboxItem.delivered_at.is_(None))
                    .values(lease_owner=None, lease_until=None)
                )

    def park(self, item_id: int, reason: str, now: datetime) -> None:
        with self._database.write() as session:
            session.execute(
                update(ForwardOutboxItem)
                .where(ForwardOutboxItem.id == item_id, ForwardOutboxItem.delivered_at.is_(None))
                .values(parked_at=now, parked_reason=reason, lease_owner=None, lease_until=None)
            )

    def park_province(self, to_province: str, reason: str, now: datetime) -> int:
        """Park every sendable item for ``to_province`` (a province no trust list names)."""
        with self._database.write() as session:
            result = session.execute(
                update(ForwardOutboxItem)
                .where(ForwardOutboxItem.to_province == to_province, _sendable(now))  # type: ignore[arg-type]
                .values(parked_at=now, parked_reason=reason, lease_owner=None, lease_until=None)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def retry(self, item_ids: Sequence[int] | None = None) -> int:
        """Unpark the given items (all parked ones with None); returns how many."""
        query = update(ForwardOutboxItem).where(ForwardOutboxItem.parked_at.is_not(None))
        if item_ids is not None:
            query = query.where(ForwardOutboxItem.id.in_(item_ids))
        with self._database.write() as session:
            result = session.execute(query.values(parked_at=None, parked_reason=None))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def items(self, state: str | None = None, limit: int = 50, vin: str | None = None) -> list[OutboxItem]:
        """Newest first; ``state`` is pending, parked or delivered (None: all)."""
        query = select(ForwardOutboxItem).order_by(ForwardOutboxItem.id.desc()).limit(limit)
        if state == "pending":
            query = query.where(
                ForwardOutboxItem.delivered_at.is_(None), ForwardOutboxItem.parked_at.is_(None)
            )
        elif state == "parked":
            query = query.where(ForwardOutboxItem.parked_at.is_not(None))
        elif state == "delivered":
            query = query.where(ForwardOutboxItem.delivered_at.is_not(None))
        if vin is not None:
            query = query.where(ForwardOutboxItem.vin == vin)
        with self._database.read() as session:
            return [OutboxItem.of(row) for row in session.scalars(query)]

    def for_record(self, station_id: str, record_id: str, kind: str = RECORD) -> OutboxItem | None:
        query = select(ForwardOutboxItem).where(
            ForwardOutboxItem.station_id == station_id,
            ForwardOutboxItem.record_id == record_id,
            ForwardOutboxItem.kind == kind,
        )
        with self._database.read() as session:
            row = session.scalars(query).first()
            return None if row is None else OutboxItem.of(row)

    def counts(self) -> OutboxCounts:
        delivered = func.count(ForwardOutboxItem.delivered_at)
        parked = func.count(ForwardOutboxItem.parked_at)
        total = func.count()
        with self._database.engine.connect() as connection:
            d, p, t = connection.execute(
                select(delivered, parked, total).select_from(ForwardOutboxItem)
            ).one()
        return OutboxCounts(pending=int(t) - int(d) - int(p), parked=int(p), delivered=int(d))

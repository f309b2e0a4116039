"""Post-review at the supervising hub (检验审核后置): the queue reviewers claim from and decide.

Records come in by ``hub.review_screening`` (``ReviewQueue.screen`` runs its ``Screener``). Items
move by ``hub.review_states`` only. A claim is a lease (``claim_lease``); ``sweep`` returns expired
claims to the queue and escalates items nobody claimed before their ``deadline``. Claiming takes
the oldest-deadline item with ``SELECT .. FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two replicas'
reviewers never get the same item and never wait on each other; SQLite's write transaction
serialises claimers instead (same result). Every change and every look at a record is appended to
the audit log in the same transaction (``hub.audit.append_audit``).

A rejection revokes the record's inspection result (``record_revocations``) and calls each
``on_rejected`` hook inside that transaction: the place where revoking the label, notifying the
station over its uplink and forwarding the revocation to the registration province will plug in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from hub.anomaly_rules import brake_runs
from hub.audit import AuditEntry, append_audit
from hub.db import Database
from hub.errors import HubError
from hub.models import Record, RecordRevocation, ReviewItem
from hub.records import RecordRow
from hub.review_screening import ReviewConfig, Screener, ScreenReport, as_utc, stored_record_row
from hub.review_states import CLAIMED_STATES, ReviewActor, ReviewEvent, ReviewState, next_state
from hub.verdict import MalformedStoredVerdict, verdict_from_json
from inspection import InspectionRecord, Verdict
from inspection.record_limits import MAX_TEXT_CHARS
from protos.errors import ProtosError
from protos.record_mapping import record_from_bytes

__all__ = ["ReviewConfig", "ReviewQueue", "ScreenReport"]  # the config and report live with the screener

log = logging.getLogger(__name__)

_ITEMS = ReviewItem.metadata.tables[ReviewItem.__tablename__]
_RECORDS = Record.metadata.tables[Record.__tablename__]


class ReviewError(HubError):
    """A review request that cannot be done; the message says which item and why."""


class ReviewItemNotFound(ReviewError):
    def __init__(self, item_id: int) -> None:
        super().__init__(f"no review item {item_id} in this reviewer's province")
        self.item_id = item_id


class NotClaimant(ReviewError):
    """Deciding or releasing an item someone else holds, or nobody does."""


class ClaimExpired(ReviewError):
    """The claim's lease ran out before the decision: claim it again."""


class InvalidDecisionReason(ReviewError):
    """An empty or over-long reason for a decision."""


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    record_seq: int
    station_id: str
    record_id: str
    vin: str
    province: str
    state: ReviewState
    reasons: tuple[Reason, ...]
    sampled: bool
    queued_at: datetime
    deadline: datetime
    claimed_by: str | None
    lease_until: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None

    @classmethod
    def of(cls, row: Row[Any]) -> ItemView:
        m = row._mapping
        return cls(
            id=m["id"],
            record_seq=m["record_seq"],
            station_id=m["station_id"],
            record_id=m["record_id"],
            vin=m["vin"],
            province=m["province"],
            state=ReviewState(m["state"]),
            reasons=tuple(Reason(r["rule"], r["reason"]) for r in m["reasons"]),
            sampled=bool(m["sampled"]),
            queued_at=as_utc(m["queued_at"]),
            deadline=as_utc(m["deadline"]),
            claimed_by=m["claimed_by"],
            lease_until=as_utc(m["lease_until"]) if m["lease_until"] is not None else None,
            decided_by=m["decided_by"],
            decided_at=as_utc(m["decided_at"]) if m["decided_at"] is not None else None,
            decision_reason=m["decision_reason"],
        )


@dataclass(frozen=True, slots=True)
class CurveSummary:
    run: str
    sample_rate_hz: int
    samples: int
    left_peak_n: int
    right_peak_n: int
    slip: bool
    test_counter: int


@dataclass(frozen=True, slots=True)
class ItemDetail:
    """What a reviewer sees: the item, the record as stored, both verdicts, curves and photos."""

    item: ItemView
    row: RecordRow
    record: InspectionRecord | None  # None if the stored bytes no longer parse (then a reason says so)
    hub_verdict: Verdict | None
    curves: tuple[CurveSummary, ...]
    photo_hashes: tuple[tuple[str, str], ...]  # (item code, sha256)
    revoked: bool


@dataclass(frozen=True, slots=True)
class QueueStats:
    by_state: Mapping[str, int]
    by_rule: Mapping[str, int]  # open items
    oldest_open_queued_at: datetime | None
    revoked: int


@dataclass(frozen=True, slots=True)
class Revocation:
    """Handed to each ``on_rejected`` hook, inside the rejecting transaction."""

    record_seq: int
    station_id: str
    record_id: str
    vin: str
    revoked_by: str
    reason: str
    revoked_at: datetime
    review_item_id: int


RejectionHook = Callable[[Connection, Revocation], None]


class ReviewQueue:
    def __init__(
        self,
        database: Database,
        config: ReviewConfig | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_rejected: Sequence[RejectionHook] = (),
    ) -> None:
        self._database = database
        self.config = config if config is not None else ReviewConfig()
        self._rng = rng if rng is not None else random.SystemRandom()
        self._clock = clock
        self._on_rejected = list(on_rejected)
        self._screener = Screener(database, self.config, self._rng, clock)

    def add_rejection_hook(self, hook: RejectionHook) -> None:
        self._on_rejected.append(hook)

    @property
    def dialect(self) -> str:
        return self._database.dialect

    def screen(self) -> ScreenReport:
        """Screen one batch of new records (``hub.review_screening``)."""
        return self._screener.screen()

    def screen_all(self) -> ScreenReport:
        """Screen until nothing new is left (tests, the CLI)."""
        return self._screener.screen_all()

    # ------------------------------------------------------------------ lease expiry, escalation

    def sweep(self) -> tuple[int, int]:
        """Return expired claims to their queue and escalate overdue items; (expired, escalated)."""
        now = self._clock()
        expired = escalated = 0
        with self._database.writer.begin() as connection:
            audits: list[AuditEntry] = []
            lapsed = connection.execute(
                select(_ITEMS)
                .where(_ITEMS.c.state.in_([s.value for s in CLAIMED_STATES]), _ITEMS.c.lease_until < now)
                .with_for_update(skip_locked=True)
            ).all()
            for row in lapsed:
                item = ItemView.of(row)
                to = next_state(item.state, ReviewEvent.EXPIRE, ReviewActor.HUB)
                if _move(connection, item, to, claimed_by=None, lease_until=None):
                    expired += 1
                    audits.append(
                        _item_audit(item, "review_expired", f"claim of {item.claimed_by} lapsed", now)
                    )
            overdue = connection.execute(
                select(_ITEMS)
                .where(_ITEMS.c.state == ReviewState.QUEUED.value, _ITEMS.c.deadline < now)
                .with_for_update(skip_locked=True)
            ).all()
            for row in overdue:
                item = ItemView.of(row)
                to = next_state(item.state, ReviewEvent.ESCALATE, ReviewActor.HUB)
                if _move(connection, item, to):
                    escalated += 1
                    audits.append(_item_audit(item, "review_escalated", "unclaimed past its deadline", now))
            append_audit(connection, audits)
        return expired, escalated

    # ------------------------------------------------------------------ reviewers

    def claim(self, person: str, actor: ReviewActor, province: str) -> ItemView | None:
        """The next item for ``person`` (senior reviewers: escalated items first), or None."""
        now = self._clock()
        states = (
            [ReviewState.ESCALATED, ReviewState.QUEUED]
            if actor is ReviewActor.SENIOR_REVIEWER
            else [ReviewState.QUEUED]
        )
        with self._database.writer.begin() as connection:
            for state in states:
                row = connection.execute(
                    select(_ITEMS)
                    .where(
                        _ITEMS.c.state == state.value,
                        _ITEMS.c.province == province,
                    )
                    .order_by(_ITEMS.c.deadline, _ITEMS.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    continue
                item = ItemView.of(row)
                to = next_state(item.state, ReviewEvent.CLAIM, actor)
                lease = now + self.config.claim_lease
                if not _move(connection, item, to, claimed_by=person, lease_until=lease):
                    continue  # pragma: no cover - the row is locked (PG) or the writer is alone (SQLite)
                append_audit(
                    connection,
                    [_item_audit(item, "review_claimed", f"by {person} until {lease.isoformat()}", now)],
                )
                return _replace_state(item, to, claimed_by=person, lease_until=lease)
        return None

    def release(self, item_id: int, person: str, actor: ReviewActor, province: str) -> ItemView:
        return self._act(item_id, person, actor, province, ReviewEvent.RELEASE, "")

    def escalate(self, item_id: int, person: str, actor: ReviewActor, province: str, reason: str) -> ItemView:
        return self._act(item_id, person, actor, province, ReviewEvent.ESCALATE, _check_reason(reason))

    def approve(self, item_id: int, person: str, actor: ReviewActor, province: str, reason: str) -> ItemView:
        return self._act(item_id, person, actor, province, ReviewEvent.APPROVE, _check_reason(reason))

    def reject(self, item_id: int, person: str, actor: ReviewActor, province: str, reason: str) -> ItemView:
        return self._act(item_id, person, actor, province, ReviewEvent.REJECT, _check_reason(reason))

    def _act(
        self, item_id: int, person: str, actor: ReviewActor, province: str, event: ReviewEvent, reason: str
    ) -> ItemView:
        now = self._clock()
        with self._database.writer.begin() as connection:
            row = connection.execute(
                select(_ITEMS).where(_ITEMS.c.id == item_id, _ITEMS.c.province == province).with_for_update()
            ).first()
            if row is None:
                raise ReviewItemNotFound(item_id)
            item = ItemView.of(row)
            to = next_state(item.state, event, actor)  # illegal events raise before the claim checks
            if item.claimed_by != person:
                raise NotClaimant(
                    f"review item {item_id} is claimed by {item.claimed_by or 'nobody'}, not {person}: claim it first"
                )
            if item.lease_until is not None and item.lease_until < now:
                raise ClaimExpired(
                    f"review item {item_id}: the claim of {person} lapsed at {item.lease_until.isoformat()}; claim it again"
                )
            audits: list[AuditEntry] = []
            if event is ReviewEvent.RELEASE or event is ReviewEvent.ESCALATE:
                _move(connection, item, to, claimed_by=None, lease_until=None)
                kind = "review_released" if event is ReviewEvent.RELEASE else "review_escalated"
                audits.append(_item_audit(item, kind, f"by {person}{': ' + reason if reason else ''}", now))
                result = _replace_state(item, to, claimed_by=None, lease_until=None)
            else:
                _move(
                    connection,
                    item,
                    to,
                    decided_by=person,
                    decided_at=now,
                    decision_reason=reason,
                    lease_until=None,
                )
                kind = "review_approved" if event is ReviewEvent.APPROVE else "review_rejected"
                audits.append(_item_audit(item, kind, f"by {person}: {reason}", now))
                result = _replace_state(
                    item, to, decided_by=person, decided_at=now, decision_reason=reason, lease_until=None
                )
                if event is ReviewEvent.REJECT:
                    revocation = Revocation(
                        item.record_seq,
                        item.station_id,
                        item.record_id,
                        item.vin,
                        person,
                        reason,
                        now,
                        item.id,
                    )
                    connection.execute(
                        insert(RecordRevocation).values(
                            record_seq=revocation.record_seq,
                            station_id=revocation.station_id,
                            record_id=revocation.record_id,
                            revoked_at=now,
                            revoked_by=person,
                            reason=reason,
                            review_item_id=item.id,
                        )
                    )
                    audits.append(
                        _item_audit(
                            item,
                            "record_revoked",
                            f"review item {item.id} rejected by {person}: {reason}",
                            now,
                        )
                    )
                    for hook in self._on_rejected:
                        hook(connection, revocation)
            append_audit(connection, audits)
            return result

    # ------------------------------------------------------------------ reading

    def items(self, province: str, states: Sequence[ReviewState] = (), limit: int = 50) -> list[ItemView]:
        """Items of ``province``, soonest deadline first (open ones unless ``states`` says)."""
        wanted = states or [s for s in ReviewState if s not in (ReviewState.APPROVED, ReviewState.REJECTED)]
        query = (
            select(_ITEMS)
            .where(_ITEMS.c.province == province, _ITEMS.c.state.in_([s.value for s in wanted]))
            .order_by(_ITEMS.c.deadline, _ITEMS.c.id)
            .limit(limit)
        )
        with self._database.engine.connect() as connection:
            return [ItemView.of(row) for row in connection.execute(query)]

    def show(self, item_id: int, person: str, province: str) -> ItemDetail:
        """The item and its record for ``person``; the look is audited (who opened which record)."""
        now = self._clock()
        with self._database.writer.begin() as connection:
            row = connection.execute(
                select(_ITEMS).where(_ITEMS.c.id == item_id, _ITEMS.c.province == province)
            ).first()
            if row is None:
                raise ReviewItemNotFound(item_id)
            item = ItemView.of(row)
            record_row = connection.execute(select(_RECORDS).where(_RECORDS.c.seq == item.record_seq)).one()
            revoked = connection.execute(
                select(func.count())
                .select_from(RecordRevocation)
                .where(RecordRevocation.record_seq == item.record_seq)
            ).scalar_one()
            append_audit(connection, [_item_audit(item, "review_opened", f"record opened by {person}", now)])
        stored = stored_record_row(record_row._mapping)
        try:
            record: InspectionRecord | None = record_from_bytes(stored.payload)
        except ProtosError:
            record = None
        curves: list[CurveSummary] = []
        if record is not None:
            for name, run in brake_runs(record):
                curve = run.curve
                curves.append(
                    CurveSummary(
                        name,
                        curve.sample_rate_hz if curve is not None else 0,
                        max(len(curve.left_n), len(curve.right_n)) if curve is not None else 0,
                        max(curve.left_n, default=0) if curve is not None else 0,
                        max(curve.right_n, default=0) if curve is not None else 0,
                        run.slip_left or run.slip_right,
                        run.test_counter,
                    )
                )
        return ItemDetail(
            item=item,
            row=stored,
            record=record,
            hub_verdict=_stored_verdict(stored),
            curves=tuple(curves),
            photo_hashes=tuple((p.item_code, p.sha256) for p in record.photos) if record is not None else (),
            revoked=bool(revoked),
        )

    def stats(self, province: str) -> QueueStats:
        with self._database.engine.connect() as connection:
            by_state = {
                state: int(count)
                for state, count in connection.execute(
                    select(_ITEMS.c.state, func.count())
                    .where(_ITEMS.c.province == province)
                    .group_by(_ITEMS.c.state)
                )
            }
            by_rule: dict[str, int] = {}
            oldest: datetime | None = None
            open_states = [
                s.value for s in ReviewState if s not in (ReviewState.APPROVED, ReviewState.REJECTED)
            ]
            for reasons, queued_at in connection.execute(
                select(_ITEMS.c.reasons, _ITEMS.c.queued_at).where(
                    _ITEMS.c.province == province, _ITEMS.c.state.in_(open_states)
                )
            ):
                for rule in {r["rule"] for r in reasons}:
                    by_rule[rule] = by_rule.get(rule, 0) + 1
                queued = as_utc(queued_at)
                oldest = queued if oldest is None or queued < oldest else oldest
            revoked = connection.execute(
                select(func.count())
                .select_from(RecordRevocation)
                .join(_ITEMS, _ITEMS.c.id == RecordRevocation.review_item_id)
                .where(_ITEMS.c.province == province)
            ).scalar_one()
        return QueueStats(by_state, dict(sorted(by_rule.items())), oldest, int(revoked))

    def revoked(self, record_seqs: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``seq -> (revoked_by, reason)`` for those of ``record_seqs`` whose result was revoked."""
        if not record_seqs:
            return {}
        with self._database.engine.connect() as connection:
            return {
                seq: (by, reason)
                for seq, by, reason in connection.execute(
                    select(
                        RecordRevocation.record_seq, RecordRevocation.revoked_by, RecordRevocation.reason
                    ).where(RecordRevocation.record_seq.in_(list(record_seqs)))
                )
            }

    def revocations_of(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
        """``(station_id, record_id) -> (revoked_by, reason)`` for those of ``keys`` whose result
        a reviewer revoked (``hub records``, a vehicle's history)."""
        if not keys:
            return {}
        query = select(
            RecordRevocation.station_id,
            RecordRevocation.record_id,
            RecordRevocation.revoked_by,
            RecordRevocation.reason,
        ).where(RecordRevocation.record_id.in_({record_id for _, record_id in keys}))
        wanted = set(keys)
        with self._database.engine.connect() as connection:
            return {
                (station, record_id): (by, reason)
                for station, record_id, by, reason in connection.execute(query)
                if (station, record_id) in wanted
            }


def _move(connection: Connection, item: ItemView, to: ReviewState, **values: Any) -> bool:
    """Compare-and-set: the item is still in the state it was read in."""
    result = connection.execute(
        update(_ITEMS)
        .where(and_(_ITEMS.c.id == item.id, _ITEMS.c.state == item.state.value))
        .values(state=to.value, **values)
    )
    return result.rowcount == 1


def _replace_state(item: ItemView, to: ReviewState, **values: Any) -> ItemView:
    return dataclasses.replace(item, state=to, **values)


def _stored_verdict(row: RecordRow) -> Verdict | None:
    try:
        return verdict_from_json(row.hub_verdict) if row.hub_verdict is not None else None
    except MalformedStoredVerdict:
        return None  # shown as "no hub verdict"; the record check names the problem


def _check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidDecisionReason("a review decision needs a reason")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidDecisionReason(
            f"a review reason has {len(text)} characters, at most {MAX_TEXT_CHARS} allowed"
        )
    return text


def _item_audit(item: ItemView, kind: str, detail: str, now: datetime) -> AuditEntry:
    return AuditEntry(
        kind, f"item {item.id}: {detail}", station_id=item.station_id, record_id=item.record_id, at=now
    )


async def screen_periodically(queue: ReviewQueue, interval_s: float) -> None:
    """The hub's screener task: screen new records and sweep leases and deadlines every
    ``interval_s`` until cancelled. Every replica may run it (the cursor lock keeps them apart); a
    database error is logged and the next round tries again."""
    loop = asyncio.get_running_loop()
    pause_factor = 3.0 if queue.dialect == "sqlite" else 1.0
    while True:
        try:
            # Batch by batch, so that stopping the hub waits for one batch at most; after each, a
            # pause: a batch holds the write lock (on SQLite the only one), and a backlog screened
            # without pauses would hold up ingest for its whole length. On SQLite the screener
            # takes at most a quarter of the time (it is post-review, hours may pass; an Ack may
            # not): at 50 records/s it held the lock 35 % of the time, and ingest's commits
            # waited behind it (p99 70-90 ms).
            while True:
                started = loop.time()
                if not (await asyncio.to_thread(queue.screen)).screened:
                    break
                await asyncio.sleep(max(0.01, pause_factor * (loop.time() - started)))
            await asyncio.to_thread(queue.sweep)
        except SQLAlchemyError:
            log.exception("review screening failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)

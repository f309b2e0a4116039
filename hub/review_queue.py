"""Post-review at the supervising hub (检验审核后置): the screener that queues records, and the queue
reviewers claim from and decide.

Screening
---------
``screen`` reads records stored since the last screening (a cursor over ``records.seq``), runs
``hub.anomaly_rules`` on each with the facts the rules need from other records (indexed look-ups:
``photo_hashes``, ``curve_fingerprints``, ``screened_records``, ``station_days``), and queues every
record with a flag, with all its reasons, plus a random sample per station (``sample_rate``).
A station-day that ended with nothing sampled gets one record drawn from it afterwards, so every
station is sampled every day it worked.

Two replicas: the screener locks the cursor row (PostgreSQL FOR UPDATE; SQLite: the write
transaction), so one screens at a time and the other then sees what it did. The cursor only moves
past records received ``settle`` ago: ``records.seq`` comes from a sequence, and a transaction that
took a lower number may commit after one that took a higher. Records above the cursor that are
already screened are skipped by their ``screened_records`` row (the anti-join is by primary key).

The queue
---------
Items move by ``hub.review_states`` only. A claim is a lease (``claim_lease``); ``sweep`` returns
expired claims to the queue and escalates items nobody claimed before their ``deadline``. Claiming
takes the oldest-deadline item with ``SELECT .. FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
replicas' reviewers never get the same item and never wait on each other; SQLite's write
transaction serialises claimers instead (same result). Every change and every look at a record is
appended to the audit log in the same transaction (``hub.audit.append_audit``).

The screener and the queue share one module on purpose: they are the only writers of
``review_items`` and share its configuration, so every way an item is created or moved reads in
one place (the state machine itself is ``hub.review_states``).

A rejection revokes the record's inspection result (``record_revocations``) and calls each
``on_rejected`` hook inside that transaction: the place where revoking the label, notifying the
station over its uplink and forwarding the revocation to the registration province will plug in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, and_, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from hub.anomaly_rules import (
    AnomalyConfig,
    PassCounts,
    Rule,
    RuleHit,
    Visit,
    brake_runs,
    copied_curves,
    counter_anomalies,
    implausible_values,
    outside_hours,
    overlapping_visits,
    pass_rate_outlier,
    record_counters,
    record_fingerprints,
    record_flags,
    shared_photos,
    too_fast,
)
from hub.audit import AuditEntry, append_audit
from hub.db import Database, insert_ignoring_duplicates
from hub.errors import HubConfigError, HubError
from hub.models import (
    CurveFingerprint,
    PhotoHash,
    Record,
    RecordRevocation,
    ReviewCursor,
    ReviewItem,
    ScreenedRecord,
    Station,
    StationDay,
)
from hub.records import ROW_COLUMNS, RecordRow
from hub.review_states import CLAIMED_STATES, ReviewActor, ReviewEvent, ReviewState, next_state
from hub.verdict import MalformedStoredVerdict, verdict_from_json
from inspection import InspectionRecord, Outcome, Verdict
from inspection.record_limits import MAX_TEXT_CHARS
from protos.errors import ProtosError
from protos.record_mapping import record_from_bytes

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
class ReviewConfig:
    province: str = "50"  # this hub's: stations without a province are its own
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    sample_rate: float = 0.05  # per station, of the records without a flag
    station_sample_rates: Mapping[str, float] = field(default_factory=dict)
    claim_lease: timedelta = timedelta(minutes=30)
    escalate_after: timedelta = timedelta(hours=48)  # unclaimed that long: a senior reviewer's
    settle: timedelta = timedelta(seconds=60)
    batch: int = 50  # records per screening transaction (SQLite: it holds the write lock meanwhile)
    late_sample_days: int = 7  # how far back a station-day without a sample still gets one

    def __post_init__(self) -> None:
        for name, rate in [("sample_rate", self.sample_rate), *self.station_sample_rates.items()]:
            if not 0.0 <= rate <= 1.0:
                raise HubConfigError(f"review sample rate {name}: {rate} is not 0..1")
        if self.claim_lease <= timedelta(0) or self.escalate_after <= timedelta(0):
            raise HubConfigError("review claim_lease and escalate_after must be positive")
        if self.settle < timedelta(0) or self.batch < 1 or self.late_sample_days < 1:
            raise HubConfigError(
                "review settle must not be negative; batch and late_sample_days must be at least 1"
            )

    def rate_of(self, station_id: str) -> float:
        return self.station_sample_rates.get(station_id, self.sample_rate)


@dataclass(frozen=True, slots=True)
class ScreenReport:
    screened: int
    queued: int
    sampled_late: int  # station-days that had no sample and got one drawn afterwards


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
            queued_at=_utc(m["queued_at"]),
            deadline=_utc(m["deadline"]),
            claimed_by=m["claimed_by"],
            lease_until=_utc(m["lease_until"]) if m["lease_until"] is not None else None,
            decided_by=m["decided_by"],
            decided_at=_utc(m["decided_at"]) if m["decided_at"] is not None else None,
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

    def add_rejection_hook(self, hook: RejectionHook) -> None:
        self._on_rejected.append(hook)

    # ------------------------------------------------------------------ screening

    def screen(self) -> ScreenReport:
        """Screen one batch of new records (and draw late samples); see the module docstring."""
        now = self._clock()
        config = self.config
        screened = queued = 0
        with self._database.writer.begin() as connection:
            cursor = connection.execute(
                select(ReviewCursor.last_seq).where(ReviewCursor.id == 1).with_for_update()
            ).scalar_one()
            rows = connection.execute(
                select(_RECORDS)
                .where(
                    _RECORDS.c.seq > cursor,
                    ~exists().where(ScreenedRecord.seq == _RECORDS.c.seq),
                )
                .order_by(_RECORDS.c.seq)
                .limit(config.batch)
            ).all()
            provinces: dict[str, str] = {}
            pass_counts: dict[Any, PassCounts] = {}  # per batch (_pass_counts)
            audits: list[AuditEntry] = []
            settled = now - config.settle
            new_cursor, moving = cursor, True
            for row in rows:
                row_view = _record_row(row._mapping)
                seq = int(row._mapping["seq"])
                province = provinces.get(row_view.station_id)
                if province is None:
                    province = _province_of(connection, row_view.station_id, config.province)
                    provinces[row_view.station_id] = province
                hits, sampled = self._screen_one(connection, seq, row_view, pass_counts)
                screened += 1
                if hits or sampled:
                    if sampled:
                        hits.append(
                            RuleHit(
                                Rule.SAMPLED, f"random sample ({config.rate_of(row_view.station_id):.0%})"
                            )
                        )
                    if self._queue(
                        connection,
                        seq,
                        row_view.station_id,
                        row_view.record_id,
                        row_view.vin,
                        province,
                        hits,
                        sampled,
                        now,
                    ):
                        queued += 1
                        audits.append(_queued_audit(row_view.station_id, row_view.record_id, hits, now))
                if moving and _utc(row_view.received_at) <= settled:
                    new_cursor = seq
                else:
                    moving = False
            if new_cursor != cursor:
                connection.execute(
                    update(ReviewCursor).where(ReviewCursor.id == 1).values(last_seq=new_cursor)
                )
            late = self._sample_missed_days(connection, now, audits)
            append_audit(connection, audits)
        return ScreenReport(screened, queued + late, late)

    def screen_all(self) -> ScreenReport:
        """Screen until nothing new is left (tests, the CLI)."""
        total = ScreenReport(0, 0, 0)
        while True:
            report = self.screen()
            total = ScreenReport(
                total.screened + report.screened,
                total.queued + report.queued,
                total.sampled_late + report.sampled_late,
            )
            if report.screened == 0:
                return total

    def _screen_one(
        self, connection: Connection, seq: int, row: RecordRow, cache: dict[Any, PassCounts]
    ) -> tuple[list[RuleHit], bool]:
        config = self.config.anomaly
        hours = config.hours_of(row.station_id)
        try:
            record = record_from_bytes(row.payload)
        except ProtosError as error:
            day = row.finished_at.astimezone(timezone(hours.utc_offset)).date()
            self._remember(connection, seq, row, 0, row.finished_at, day, None, None)
            return [RuleHit(Rule.IMPLAUSIBLE_VALUE, f"the stored record no longer parses: {error}")], False
        outcome = Outcome(row.hub_overall) if row.hub_overall in set(Outcome) else None
        day = record.started_at.astimezone(timezone(hours.utc_offset)).date()
        fingerprints = record_fingerprints(record, config)
        # The look-ups first (database errors end the batch and it is tried again), then the
        # pure rules over what they found.
        previous_counter = _previous_counter(connection, record)
        photo_owners = _photo_owners(connection, record)
        curve_owners = _curve_owners(connection, fingerprints, record.vehicle.vin)
        visits = _visits(connection, record)
        station, peers = _pass_counts(connection, row.station_id, day, config.pass_rate_window_days, cache)
        try:
            hits = record_flags(record, row.verdict_mismatch, row.station_overall, row.hub_overall)
            hits += too_fast(record, config)
            hits += implausible_values(record, config)
            hits += outside_hours(record, hours)
            hits += counter_anomalies(record, previous_counter, config)
            hits += shared_photos(record, photo_owners)
            hits += copied_curves(record, fingerprints, curve_owners)
            hits += overlapping_visits(record, visits)
            hits += pass_rate_outlier(row.station_id, outcome, station, peers, config)
        except Exception as error:  # a bug in a rule must not stall screening at this record
            log.exception("anomaly rules failed on record %s of %s", row.record_id, row.station_id)
            hits = [RuleHit(Rule.IMPLAUSIBLE_VALUE, f"the anomaly rules failed on this record: {error!r}")]
        counters = record_counters(record)
        self._remember(
            connection,
            seq,
            row,
            record.lane,
            record.started_at,
            day,
            outcome,
            counters[-1][1] if counters else None,
        )
        dialect = connection.dialect.name
        if record.photos:
            connection.execute(
                insert_ignoring_duplicates(dialect, PhotoHash.metadata.tables[PhotoHash.__tablename__]),
                [{"sha256": p.sha256, "record_seq": seq, "vin": record.vehicle.vin} for p in record.photos],
            )
        if fingerprints:
            connection.execute(
                insert_ignoring_duplicates(
                    dialect, CurveFingerprint.metadata.tables[CurveFingerprint.__tablename__]
                ),
                [
                    {"fingerprint": f, "record_seq": seq, "run": name, "vin": record.vehicle.vin}
                    for name, f in fingerprints
                ],
            )
        sampled = not hits and self._rng.random() < self.config.rate_of(row.station_id)
        _count_day(connection, row.station_id, day, outcome is Outcome.PASS, sampled)
        _bump(cache, row.station_id, day, outcome is Outcome.PASS, config.pass_rate_window_days)
        return hits, sampled

    def _remember(
        self,
        connection: Connection,
        seq: int,
        row: RecordRow,
        lane: int,
        started_at: datetime,
        day: date,
        outcome: Outcome | None,
        last_counter: int | None,
    ) -> None:
        connection.execute(
            insert(ScreenedRecord).values(
                seq=seq,
                station_id=row.station_id,
                record_id=row.record_id,
                lane=lane,
                vin=row.vin,
                started_at=started_at,
                finished_at=row.finished_at,
                day=day,
                outcome=outcome.value if outcome is not None else None,
                last_counter=last_counter,
            )
        )

    def _queue(
        self,
        connection: Connection,
        seq: int,
        station_id: str,
        record_id: str,
        vin: str,
        province: str,
        hits: Sequence[RuleHit],
        sampled: bool,
        now: datetime,
    ) -> bool:
        statement = insert_ignoring_duplicates(connection.dialect.name, _ITEMS).returning(_ITEMS.c.id)
        inserted = connection.execute(
            statement,
            {
                "record_seq": seq,
                "station_id": station_id,
                "record_id": record_id,
                "vin": vin,
                "province": province,
                "state": ReviewState.QUEUED.value,
                "reasons": [{"rule": h.rule.value, "reason": h.reason} for h in hits],
                "sampled": sampled,
                "queued_at": now,
                "deadline": now + self.config.escalate_after,
            },
        ).first()
        return inserted is not None

    def _sample_missed_days(self, connection: Connection, now: datetime, audits: list[AuditEntry]) -> int:
        """One random record from every finished station-day that had none sampled."""
        zone = timezone(self.config.anomaly.default_hours.utc_offset)
        today = now.astimezone(zone).date()
        first = today - timedelta(days=self.config.late_sample_days)
        missed = connection.execute(missed_days_query(first, today)).all()
        drawn = 0
        for station_id, day, inspected in missed:
            candidates = connection.execute(
                select(ScreenedRecord.seq, ScreenedRecord.record_id, ScreenedRecord.vin).where(
                    ScreenedRecord.station_id == station_id,
                    ScreenedRecord.day == day,
                    ~exists().where(_ITEMS.c.record_seq == ScreenedRecord.seq),
                )
            ).all()
            connection.execute(
                update(StationDay)
                .where(StationDay.station_id == station_id, StationDay.day == day)
                .values(sampled=StationDay.sampled + 1)
            )
            if not candidates:
                continue  # every record of that day is queued already
            seq, record_id, vin = self._rng.choice(candidates)
            hit = RuleHit(
                Rule.SAMPLED,
                f"daily sample: none of the station's {inspected} records of {day.isoformat()} had been sampled",
            )
            province = _province_of(connection, station_id, self.config.province)
            if self._queue(connection, seq, station_id, record_id, vin, province, [hit], True, now):
                drawn += 1
                audits.append(_queued_audit(station_id, record_id, [hit], now))
        return drawn

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
        stored = _record_row(record_row._mapping)
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
                queued = _utc(queued_at)
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


# ---------------------------------------------------------------------- indexed look-ups
# Each one is an equality or a prefix range on an index (see tests/hub/test_review_indexes.py).


def photo_owners_query(hashes: Sequence[str], vin: str) -> Any:
    return select(PhotoHash.sha256, PhotoHash.vin).where(
        PhotoHash.sha256.in_(list(hashes)), PhotoHash.vin != vin
    )


def curve_owners_query(fingerprints: Sequence[str], vin: str) -> Any:
    return select(CurveFingerprint.fingerprint, CurveFingerprint.vin).where(
        CurveFingerprint.fingerprint.in_(list(fingerprints)), CurveFingerprint.vin != vin
    )


def visits_query(vin: str, started_at: datetime, finished_at: datetime) -> Any:
    return select(
        ScreenedRecord.station_id,
        ScreenedRecord.record_id,
        ScreenedRecord.started_at,
        ScreenedRecord.finished_at,
    ).where(
        ScreenedRecord.vin == vin,
        ScreenedRecord.started_at < finished_at,
        ScreenedRecord.finished_at > started_at,
    )


def previous_counter_query(station_id: str, lane: int, before: datetime) -> Any:
    return (
        select(ScreenedRecord.last_counter)
        .where(
            ScreenedRecord.station_id == station_id,
            ScreenedRecord.lane == lane,
            ScreenedRecord.finished_at < before,
            ScreenedRecord.last_counter.is_not(None),
        )
        .order_by(ScreenedRecord.finished_at.desc())
        .limit(1)
    )


def pass_counts_query(first: date, last: date, station_id: str | None = None) -> Any:
    """Inspected and passed over ``first..last``: one station's (primary key range), or every
    station's (``ix_station_days_day``)."""
    query = select(
        func.coalesce(func.sum(StationDay.inspected), 0), func.coalesce(func.sum(StationDay.passed), 0)
    ).where(StationDay.day >= first, StationDay.day <= last)
    return query.where(StationDay.station_id == station_id) if station_id is not None else query


def missed_days_query(first: date, today: date) -> Any:
    """Station-days of ``first..today`` (exclusive) that ended with records but no sample."""
    return select(StationDay.station_id, StationDay.day, StationDay.inspected).where(
        StationDay.day >= first, StationDay.day < today, StationDay.sampled == 0, StationDay.inspected > 0
    )


def _photo_owners(connection: Connection, record: InspectionRecord) -> dict[str, list[str]]:
    if not record.photos:
        return {}
    owners: dict[str, list[str]] = {}
    for sha256, vin in connection.execute(
        photo_owners_query([p.sha256 for p in record.photos], record.vehicle.vin)
    ):
        owners.setdefault(sha256, []).append(vin)
    return owners


def _curve_owners(
    connection: Connection, fingerprints: Sequence[tuple[str, str]], vin: str
) -> dict[str, list[str]]:
    if not fingerprints:
        return {}
    owners: dict[str, list[str]] = {}
    for fingerprint, other in connection.execute(curve_owners_query([f for _, f in fingerprints], vin)):
        owners.setdefault(fingerprint, []).append(other)
    return owners


def _visits(connection: Connection, record: InspectionRecord) -> list[Visit]:
    return [
        Visit(station, record_id, _utc(started), _utc(finished))
        for station, record_id, started, finished in connection.execute(
            visits_query(record.vehicle.vin, record.started_at, record.finished_at)
        )
    ]


def _previous_counter(connection: Connection, record: InspectionRecord) -> int | None:
    value = connection.execute(
        previous_counter_query(record.station_id, record.lane, record.finished_at)
    ).scalar()
    return int(value) if value is not None else None


def _pass_counts(
    connection: Connection, station_id: str, day: date, window_days: int, cache: dict[Any, PassCounts]
) -> tuple[PassCounts, PassCounts]:
    """The station's counts over the window ending ``day``, and its peers' (every other station).

    Both are read once per batch and kept in ``cache``: the province-wide sum covers every
    station-day of the window, too many rows to add up again for each record."""
    first = day - timedelta(days=window_days - 1)
    if day not in cache:
        everyone = connection.execute(pass_counts_query(first, day)).one()
        cache[day] = PassCounts(int(everyone[0]), int(everyone[1]))
    if (station_id, day) not in cache:
        station = connection.execute(pass_counts_query(first, day, station_id)).one()
        cache[(station_id, day)] = PassCounts(int(station[0]), int(station[1]))
    total, own = cache[day], cache[(station_id, day)]
    return own, PassCounts(total.inspected - own.inspected, total.passed - own.passed)


def _bump(cache: dict[Any, PassCounts], station_id: str, day: date, passed: bool, window_days: int) -> None:
    """Count a record just screened into the batch's cached sums whose window holds its day."""
    for key, counts in cache.items():
        end, station = (key, None) if isinstance(key, date) else (key[1], key[0])
        if station not in (None, station_id) or not end - timedelta(days=window_days) < day <= end:
            continue
        cache[key] = PassCounts(counts.inspected + 1, counts.passed + int(passed))


def _count_day(connection: Connection, station_id: str, day: date, passed: bool, sampled: bool) -> None:
    values = {
        "station_id": station_id,
        "day": day,
        "inspected": 1,
        "passed": int(passed),
        "sampled": int(sampled),
    }
    table = StationDay.metadata.tables[StationDay.__tablename__]
    dialect = connection.dialect.name
    statement: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = statement.values(values)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["station_id", "day"],
            set_={
                "inspected": StationDay.inspected + 1,
                "passed": StationDay.passed + int(passed),
                "sampled": StationDay.sampled + int(sampled),
            },
        )
    )


def _province_of(connection: Connection, station_id: str, default: str) -> str:
    province = connection.execute(select(Station.province).where(Station.station_id == station_id)).scalar()
    return str(province) if province else default


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


def _record_row(columns: RowMapping) -> RecordRow:
    values = {name: columns[name] for name in ROW_COLUMNS}
    values["payload"], values["signature"] = bytes(values["payload"]), bytes(values["signature"])
    return RecordRow(**values)


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


def _queued_audit(station_id: str, record_id: str, hits: Sequence[RuleHit], now: datetime) -> AuditEntry:
    rules = sorted({h.rule.value for h in hits})
    return AuditEntry("review_queued", json.dumps(rules), station_id=station_id, record_id=record_id, at=now)


def _item_audit(item: ItemView, kind: str, detail: str, now: datetime) -> AuditEntry:
    return AuditEntry(
        kind, f"item {item.id}: {detail}", station_id=item.station_id, record_id=item.record_id, at=now
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def screen_periodically(queue: ReviewQueue, interval_s: float) -> None:
    """The hub's screener task: screen new records and sweep leases and deadlines every
    ``interval_s`` until cancelled. Every replica may run it (the cursor lock keeps them apart); a
    database error is logged and the next round tries again."""
    while True:
        try:
            # Batch by batch, so that stopping the hub waits for one batch at most.
            while (await asyncio.to_thread(queue.screen)).screened:
                pass
            await asyncio.to_thread(queue.sweep)
        except SQLAlchemyError:
            log.exception("review screening failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)

"""Screening for post-review (智慧监管): the screener that reads newly stored records, runs
``hub.anomaly_rules`` on each, and queues every record with a flag (with all its reasons) plus a
random sample per station; the queue itself is ``hub.review_queue``.

``Screener.screen`` reads records stored since the last screening (a cursor over ``records.seq``)
with the facts the rules need from other records, by indexed look-ups: ``photo_hashes``,
``curve_fingerprints``, ``screened_records``, ``station_days`` (the query functions below; their
plans are checked in ``tests/hub/test_review_indexes.py``). A station-day that ended with nothing
sampled gets one record drawn from it afterwards, so every station is sampled every day it worked.

Two replicas: the screener locks the cursor row (PostgreSQL FOR UPDATE; SQLite: the write
transaction), so one screens at a time and the other then sees what it did. The cursor only moves
past records received ``settle`` ago: ``records.seq`` comes from a sequence, and a transaction that
took a lower number may commit after one that took a higher. Records above the cursor that are
already screened are skipped by their ``screened_records`` row (the anti-join is by primary key).
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, exists, func, insert, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.anomaly_rules import (
    AnomalyConfig,
    PassCounts,
    Rule,
    RuleHit,
    Visit,
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
from hub.errors import HubConfigError
from hub.models import (
    CurveFingerprint,
    PhotoHash,
    Record,
    ReviewCursor,
    ReviewItem,
    ScreenedRecord,
    Station,
    StationDay,
)
from hub.records import ROW_COLUMNS, RecordRow
from hub.review_states import ReviewState
from inspection import InspectionRecord, Outcome
from protos.errors import ProtosError
from protos.record_mapping import record_from_bytes

log = logging.getLogger(__name__)

_ITEMS = ReviewItem.metadata.tables[ReviewItem.__tablename__]
_RECORDS = Record.metadata.tables[Record.__tablename__]


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
    # A transaction stops taking records after this long, whatever is left of its batch: on
    # SQLite it holds the only write lock, and a batch of full-size records (3-5 ms each) held
    # ingest's commits up for 150-250 ms; the SQLite busy handler then wakes waiters late.
    max_hold: timedelta = timedelta(milliseconds=10)
    late_sample_days: int = 7  # how far back a station-day without a sample still gets one

    def __post_init__(self) -> None:
        for name, rate in [("sample_rate", self.sample_rate), *self.station_sample_rates.items()]:
            if not 0.0 <= rate <= 1.0:
                raise HubConfigError(f"review sample rate {name}: {rate} is not 0..1")
        if self.claim_lease <= timedelta(0) or self.escalate_after <= timedelta(0):
            raise HubConfigError("review claim_lease and escalate_after must be positive")
        if self.max_hold <= timedelta(0):
            raise HubConfigError(f"review max_hold must be positive, not {self.max_hold}")
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


class Screener:
    """Screens new records into ``review_items``; safe to run on every replica at once."""

    def __init__(
        self,
        database: Database,
        config: ReviewConfig,
        rng: random.Random,
        clock: Callable[[], datetime],
    ) -> None:
        self._database = database
        self.config = config
        self._rng = rng
        self._clock = clock

    def screen(self) -> ScreenReport:
        """Screen one batch of new records (and draw late samples); see the module docstring."""
        now = self._clock()
        config = self.config
        screened = queued = 0
        with self._database.writer.begin() as connection:
            cursor = connection.execute(
                select(ReviewCursor.last_seq).where(ReviewCursor.id == 1).with_for_update()
            ).scalar_one()
            # Numbers first, each row when its turn comes: a row is ~10 kB of payload and two
            # verdicts as JSON, and reading the whole batch cost 20-25 ms of a transaction that
            # screens a few records in its time (max_hold).
            pending = (
                connection.execute(
                    select(_RECORDS.c.seq)
                    .where(
                        _RECORDS.c.seq > cursor,
                        ~exists().where(ScreenedRecord.seq == _RECORDS.c.seq),
                    )
                    .order_by(_RECORDS.c.seq)
                    .limit(config.batch)
                )
                .scalars()
                .all()
            )
            provinces: dict[str, str] = {}
            pass_counts: dict[Any, PassCounts] = {}  # per batch (_pass_counts)
            audits: list[AuditEntry] = []
            settled = now - config.settle
            new_cursor, moving = cursor, True
            deadline = time.monotonic() + config.max_hold.total_seconds()
            for seq in pending:
                if screened and time.monotonic() > deadline:
                    break  # the rest in the next transaction; the cursor stops before them
                row = connection.execute(select(_RECORDS).where(_RECORDS.c.seq == seq)).one()
                row_view = stored_record_row(row._mapping)
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
                if moving and as_utc(row_view.received_at) <= settled:
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


# ---------------------------------------------------------------------- indexed look-ups
# Each one is an equality or a prefix range on an index (see tests/hub/test_review_indexes.py).


# Other vehicles looked up per photo hash or curve fingerprint: the rules name three and say
# "and others". Unbounded, a shape many records share (one bench model's typical curve, or the
# same test data replayed) returned every earlier record: 3,500 rows a record after 3,500
# records, 17-20 ms of screening each, growing with the table.
OWNERS_LOOKED_UP = 4


@functools.lru_cache(maxsize=64)
def _owners_statement(table: str, count: int) -> Any:
    """(value, other VIN) for each of ``count`` values (``value0``...; ``vin``): at most
    ``OWNERS_LOOKED_UP`` VINs each, by index. Built once per shape: building it per record cost
    more than running it."""
    key, vin = {
        "photo_hashes": (PhotoHash.sha256, PhotoHash.vin),
        "curve_fingerprints": (CurveFingerprint.fingerprint, CurveFingerprint.vin),
    }[table]
    members = [
        select(key.label("key"), vin.label("vin"))
        .where(key == bindparam(f"value{i}"), vin != bindparam("vin"))
        .distinct()
        .limit(OWNERS_LOOKED_UP)
        .subquery()
        for i in range(count)
    ]
    selects = [select(member.c.key, member.c.vin) for member in members]
    return selects[0] if count == 1 else union_all(*selects)


def _owners_parameters(values: Sequence[str], vin: str) -> dict[str, str]:
    return {"vin": vin, **{f"value{i}": value for i, value in enumerate(dict.fromkeys(values))}}


def photo_owners_query(hashes: Sequence[str], vin: str) -> Any:
    parameters = _owners_parameters(hashes, vin)
    return _owners_statement("photo_hashes", len(parameters) - 1).params(parameters)


def curve_owners_query(fingerprints: Sequence[str], vin: str) -> Any:
    parameters = _owners_parameters(fingerprints, vin)
    return _owners_statement("curve_fingerprints", len(parameters) - 1).params(parameters)


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
    parameters = _owners_parameters([p.sha256 for p in record.photos], record.vehicle.vin)
    for sha256, vin in connection.execute(_owners_statement("photo_hashes", len(parameters) - 1), parameters):
        owners.setdefault(sha256, []).append(vin)
    return owners


def _curve_owners(
    connection: Connection, fingerprints: Sequence[tuple[str, str]], vin: str
) -> dict[str, list[str]]:
    if not fingerprints:
        return {}
    owners: dict[str, list[str]] = {}
    parameters = _owners_parameters([f for _, f in fingerprints], vin)
    statement = _owners_statement("curve_fingerprints", len(parameters) - 1)
    for fingerprint, other in connection.execute(statement, parameters):
        owners.setdefault(fingerprint, []).append(other)
    return owners


def _visits(connection: Connection, record: InspectionRecord) -> list[Visit]:
    return [
        Visit(station, record_id, as_utc(started), as_utc(finished))
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


def stored_record_row(columns: RowMapping) -> RecordRow:
    """A ``records`` row read with Core as the ``RecordRow`` shape."""
    values = {name: columns[name] for name in ROW_COLUMNS}
    values["payload"], values["signature"] = bytes(values["payload"]), bytes(values["signature"])
    return RecordRow(**values)


def _queued_audit(station_id: str, record_id: str, hits: Sequence[RuleHit], now: datetime) -> AuditEntry:
    rules = sorted({h.rule.value for h in hits})
    return AuditEntry("review_queued", json.dumps(rules), station_id=station_id, record_id=record_id, at=now)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

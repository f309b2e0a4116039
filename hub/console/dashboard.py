"""What the dashboard shows, read from the hub's tables: per-station pass rates, anomaly counts by
rule, and how many records arrived per hour.

The hourly buckets are the one dialect-specific query here: ``date_trunc`` on PostgreSQL, and
``strftime`` over the stored UTC text on SQLite.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.db import Database
from hub.models import Record, ReviewItem


@dataclass(frozen=True, slots=True)
class StationRates:
    station_id: str
    records: int
    passed: int
    failed: int
    anomalies: int  # review items flagged by a rule (sampled-only items not counted)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.records if self.records else 0.0


@dataclass(frozen=True, slots=True)
class HourCount:
    hour: datetime  # the start of the hour, UTC
    records: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    stations: tuple[StationRates, ...]
    anomalies_by_rule: tuple[tuple[str, int], ...]
    ingest_by_hour: tuple[HourCount, ...]  # oldest first, every hour of the window (zeros too)
    total_records: int

    @property
    def busiest_hour(self) -> int:
        return max((h.records for h in self.ingest_by_hour), default=0)


def read_dashboard(database: Database, now: datetime, hours: int = 24) -> Dashboard:
    since = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    with database.engine.connect() as connection:
        outcomes: dict[str, Counter[str]] = {}
        for station_id, overall, count in connection.execute(
            select(Record.station_id, Record.hub_overall, func.count()).group_by(
                Record.station_id, Record.hub_overall
            )
        ):
            outcomes.setdefault(station_id, Counter())[overall or "none"] += int(count)
        per_station: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        for station_id, reasons in connection.execute(select(ReviewItem.station_id, ReviewItem.reasons)):
            rules = {r["rule"] for r in reasons}
            if rules:
                per_station[station_id] += 1
            by_rule.update(rules)
        if connection.dialect.name == "postgresql":
            bucket = func.date_trunc("hour", Record.received_at)
        else:
            bucket = func.strftime("%Y-%m-%d %H:00:00", Record.received_at)
        hourly = {
            _hour(value): int(count)
            for value, count in connection.execute(
                select(bucket, func.count()).where(Record.received_at >= since).group_by(bucket)
            )
        }
    stations = tuple(
        StationRates(
            station_id,
            sum(counts.values()),
            counts.get("pass", 0),
            counts.get("fail", 0),
            per_station.get(station_id, 0),
        )
        for station_id, counts in sorted(outcomes.items())
    )
    hours_list = tuple(
        HourCount(since + timedelta(hours=i), hourly.get(since + timedelta(hours=i), 0)) for i in range(hours)
    )
    return Dashboard(
        stations,
        tuple(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        hours_list,
        sum(s.records for s in stations),
    )


def _hour(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""Which emission limit set ("a" or "b") applies, by province and date: a schedule that is configuration.

GB 18285-2018 and GB 3847-2018 each have two limit sets; which one a province applies from which
date is the province's decision (standards.md §1: "[src: structure; mem: dates]"). No dates ship
with the code: the schedule is the hub's configuration, and a station that uses it reads the same
file, so ``limit_set_for`` gives station and hub the same answer for the same record.

A schedule as TOML (``LimitSetSchedule.from_mapping(tomllib.loads(text))``)::

    [provinces]
    "*"  = [{ from = 2019-05-01, set = "a" }]            # every province not listed
    "50" = [{ from = 2019-05-01, set = "a" }, { from = 2023-07-01, set = "b" }]

A province's own periods replace the ``"*"`` ones entirely; on a date before its first period the
province has no set (``NoLimitSet``): an inspection then cannot be judged, rather than judged
against a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from inspection.errors import InspectionError
from inspection.measurements import LimitSet

EVERY_PROVINCE = "*"
_PROVINCE = re.compile(r"\d{2}")


class LimitSetScheduleError(InspectionError, ValueError):
    """A schedule that cannot be used: ``key`` names the place (``provinces.50[1].set``)."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


class NoLimitSet(InspectionError, LookupError):
    """The schedule has no limit set for this province on this date."""

    def __init__(self, province: str, on: date) -> None:
        super().__init__(f"no emission limit set for province {province} on {on.isoformat()}")
        self.province = province
        self.on = on


@dataclass(frozen=True, slots=True)
class LimitSetPeriod:
    valid_from: date
    limit_set: LimitSet


@dataclass(frozen=True, slots=True)
class LimitSetSchedule:
    """Per province (GB/T 2260 code, or ``"*"``), periods sorted by start date."""

    provinces: Mapping[str, tuple[LimitSetPeriod, ...]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<schedule>") -> LimitSetSchedule:
        """A schedule from parsed TOML (or any mapping of the same shape); refuses every mistake."""
        if set(data) != {"provinces"}:
            extra = sorted(set(data) - {"provinces"})
            raise LimitSetScheduleError(
                source, extra[0] if extra else "provinces", "unknown key" if extra else "missing"
            )
        table = data["provinces"]
        if not isinstance(table, Mapping) or not table:
            raise LimitSetScheduleError(source, "provinces", "must be a non-empty table of provinces")
        provinces: dict[str, tuple[LimitSetPeriod, ...]] = {}
        for province, periods in table.items():
            key = f"provinces.{province}"
            if not isinstance(province, str) or not (
                province == EVERY_PROVINCE or _PROVINCE.fullmatch(province)
            ):
                raise LimitSetScheduleError(source, key, 'a province is a two-digit GB/T 2260 code or "*"')
            if not isinstance(periods, list) or not periods:
                raise LimitSetScheduleError(source, key, "must be a non-empty list of periods")
            parsed = [_period(period, source, f"{key}[{i}]") for i, period in enumerate(periods)]
            starts = [p.valid_from for p in parsed]
            if starts != sorted(starts) or len(set(starts)) != len(starts):
                raise LimitSetScheduleError(source, key, "periods must start on strictly increasing dates")
            provinces[province] = tuple(parsed)
        return cls(provinces)


def _period(value: object, source: str, key: str) -> LimitSetPeriod:
    if not isinstance(value, Mapping):
        raise LimitSetScheduleError(source, key, "must be a table with from and set")
    if set(value) != {"from", "set"}:
        wrong = sorted(set(value) ^ {"from", "set"})
        raise LimitSetScheduleError(
            source, f"{key}.{wrong[0]}", "unknown key" if wrong[0] in value else "missing"
        )
    start = value["from"]
    if not isinstance(start, date) or hasattr(start, "hour"):
        raise LimitSetScheduleError(source, f"{key}.from", f"must be a date (YYYY-MM-DD), not {start!r}")
    try:
        limit_set = LimitSet(value["set"])
    except ValueError:
        raise LimitSetScheduleError(
            source, f"{key}.set", f"{value['set']!r} is not one of 'a', 'b'"
        ) from None
    return LimitSetPeriod(start, limit_set)


def limit_set_for(province: str, on: date, schedule: LimitSetSchedule) -> LimitSet:
    """The set ``province`` applies on ``on``: its own latest period begun by then, else ``"*"``'s."""
    periods = schedule.provinces.get(province, schedule.provinces.get(EVERY_PROVINCE, ()))
    current = [p for p in periods if p.valid_from <= on]
    if not current:
        raise NoLimitSet(province, on)
    return current[-1].limit_set


def province_of_station(station_id: str) -> str:
    """A station id starts with its province's code ("50-0001" -> "50")."""
    return station_id.split("-", 1)[0]

"""When a vehicle is due for periodic inspection, under the rules in force on a given date.

Three regimes (standards.md section 6); the date a question is asked on decides which applies:

- ``LAW_2004``: the Road Traffic Safety Law's implementing regulations, art. 16 — non-operating
  small/micro passenger cars every 2 years within 6 years, yearly after 6, every 6 months after 15;
  operating passenger vehicles yearly within 5 years, every 6 months after; goods vehicles and
  large/medium non-operating buses yearly within 10 years, every 6 months after.
- ``EXEMPT_2014`` (from 2014-09-01): non-operating small/micro passenger cars with at most 6 seats
  and not a van are exempt from the lane at years 2 and 4 (the owner applies for the label); lane at 6.
- ``REFORM_2022`` (from 2022-10-01): the same cars with up to 9 seats; labels at years 2, 4 and 8,
  lane at 6 and 10; after 10 years every 2 years, after 15 yearly.

Calendar arithmetic is ``dateutil.relativedelta``: due dates are the registration date plus whole
months, clamped to the month's end, so a 29 February registration falls due on 28 February in
other years (our stated rule) and a 31 August one on 28/29 February six months later. A stage
boundary is never jumped over: the due point after age 14 under the 2022 schedule is age 15
(where the yearly stage begins), not 16. The label window opens 3 months before the due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from inspection.vehicle import VehicleClass, VehicleUse

EXEMPTION_2014_START = date(2014, 9, 1)
REFORM_2022_START = date(2022, 10, 1)
WINDOW_MONTHS = 3  # the label window opens this many months before the due date


class Regime(StrEnum):
    LAW_2004 = "law_2004"
    EXEMPT_2014 = "exempt_2014"
    REFORM_2022 = "reform_2022"


def regime_on(day: date) -> Regime:
    """The regime in force on ``day``."""
    if day >= REFORM_2022_START:
        return Regime.REFORM_2022
    if day >= EXEMPTION_2014_START:
        return Regime.EXEMPT_2014
    return Regime.LAW_2004


class DueKind(StrEnum):
    LANE = "lane"  # the vehicle must pass a lane inspection
    LABEL = "label"  # exempt: the owner applies for the label, no lane


@dataclass(frozen=True, slots=True)
class ScheduledVehicle:
    """The facts a schedule depends on (a subset of ``inspection.Vehicle`` and the register)."""

    vehicle_class: VehicleClass
    use: VehicleUse
    seats: int  # including the driver's
    van: bool  # 面包车
    registration_date: date


@dataclass(frozen=True, slots=True)
class DuePoint:
    age_months: int  # 0 is the registration itself
    due: date
    kind: DueKind

    @property
    def window_opens(self) -> date:
        return self.due - relativedelta(months=WINDOW_MONTHS)


# A plan: (stage ends at age in months, interval in months) in order; the last stage never ends.
_FOREVER = 10**6
_Plan = tuple[tuple[int, int], ...]
_SMALL_CAR_LAW: _Plan = ((72, 24), (180, 12), (_FOREVER, 6))
_SMALL_CAR_2022: _Plan = ((180, 24), (_FOREVER, 12))
_OPERATING_PASSENGER: _Plan = ((60, 12), (_FOREVER, 6))
_GOODS_AND_BUSES: _Plan = ((120, 12), (_FOREVER, 6))

_MAX_SEATS = {Regime.EXEMPT_2014: 6, Regime.REFORM_2022: 9}
_LABEL_AGES = {Regime.LAW_2004: frozenset[int](), Regime.EXEMPT_2014: frozenset({24, 48})}
_LABEL_AGES[Regime.REFORM_2022] = frozenset({24, 48, 96})


def is_small_non_operating_car(vehicle: ScheduledVehicle) -> bool:
    return vehicle.vehicle_class is VehicleClass.M1 and vehicle.use is VehicleUse.NON_OPERATING


def exemption_class_ok(vehicle: ScheduledVehicle, regime: Regime) -> bool:
    """Whether the vehicle is of the kind the regime exempts (class, use, van, seats)."""
    if regime is Regime.LAW_2004:
        return False
    return is_small_non_operating_car(vehicle) and not vehicle.van and vehicle.seats <= _MAX_SEATS[regime]


def max_exempt_seats(regime: Regime) -> int | None:
    return _MAX_SEATS.get(regime)


def label_ages(regime: Regime) -> frozenset[int]:
    """Ages in months at which an exempt vehicle gets a label instead of a lane inspection."""
    return _LABEL_AGES[regime]


def _plan(vehicle: ScheduledVehicle, regime: Regime) -> _Plan:
    if is_small_non_operating_car(vehicle):
        reformed = regime is Regime.REFORM_2022 and exemption_class_ok(vehicle, regime)
        return _SMALL_CAR_2022 if reformed else _SMALL_CAR_LAW
    if vehicle.use is VehicleUse.OPERATING and vehicle.vehicle_class in (
        VehicleClass.M1,
        VehicleClass.M2,
        VehicleClass.M3,
    ):
        return _OPERATING_PASSENGER
    return _GOODS_AND_BUSES


def _next_age(age: int, plan: _Plan) -> int:
    for ends, interval in plan:
        if age < ends:
            return min(age + interval, ends)
    raise AssertionError("the last stage never ends")  # pragma: no cover


def due_date(registration: date, age_months: int) -> date:
    """Registration date plus whole months, clamped to the month's end (29 Feb -> 28 Feb)."""
    return registration + relativedelta(months=age_months)


def due_points(vehicle: ScheduledVehicle, regime: Regime, until: date) -> tuple[DuePoint, ...]:
    """Every due point after registration whose window opens on or before ``until``, in order,
    plus the first one after that (so the caller always sees what comes next)."""
    plan = _plan(vehicle, regime)
    exempt = exemption_class_ok(vehicle, regime)
    labels = label_ages(regime) if exempt else frozenset()
    points: list[DuePoint] = []
    age = 0
    while True:
        age = _next_age(age, plan)
        kind = DueKind.LABEL if age in labels else DueKind.LANE
        point = DuePoint(age, due_date(vehicle.registration_date, age), kind)
        points.append(point)
        if point.window_opens > until:
            return tuple(points)


@dataclass(frozen=True, slots=True)
class SchedulePosition:
    """Where a vehicle stands on a day: the due point whose window is open or last was
    (``current``; None before the first window opens) and the one after it."""

    current: DuePoint | None
    following: DuePoint


def position_on(vehicle: ScheduledVehicle, day: date, regime: Regime | None = None) -> SchedulePosition:
    """The schedule position on ``day`` under ``regime`` (default: the regime in force on ``day``)."""
    points = due_points(vehicle, regime or regime_on(day), day)
    opened = [p for p in points if p.window_opens <= day]
    current = opened[-1] if opened else None
    return SchedulePosition(current, points[len(opened)])

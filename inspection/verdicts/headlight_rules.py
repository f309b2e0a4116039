"""Headlamp rules: high-beam intensity and beam position on the screen (standards.md §3).

The lane measures the left and the right lamp, high and low beam (``station_agent.procedures.
headlight``). Per lamp: high-beam intensity; low-beam cut-off elbow height and horizontal offset;
and, only where the high beam is adjusted separately, the high-beam centre's height and offset.

Heights are limits as fractions of H, the lamp centre height; the items carry them in millimetres
(fraction x H, exact to 0.01 mm) so the measured value is the tester's own figure. A missing,
duplicated or impossible measurement (negative intensity or height, H <= 0) is CANNOT_JUDGE.

"New registration" (注册登记) is the record's inspection purpose (``InspectionPurpose``): a
registration inspection takes the new-vehicle intensity values, a periodic one the lower in-use
values. A record that does not state its purpose (older records) is read as before: new when
inspected on or before the registration date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta, timezone

from inspection.measurements import Beam, LampMeasurement, Side
from inspection.record import InspectionPurpose, InspectionRecord
from inspection.vehicle import LampSystem, Vehicle, VehicleClass
from inspection.verdict import VerdictItem
from inspection.verdicts.limits import (
    DEFAULT_LIMITS,
    Limit,
    LimitTable,
    Rule,
    judged_item,
    round_half_up,
    unjudged_item,
)

# Registration dates are calendar dates in China; the record's timestamps are timezone-aware.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def inspection_date(record: InspectionRecord) -> date:
    """The calendar day of the inspection in China (UTC+8), whatever zone the record was stamped in."""
    return record.started_at.astimezone(CHINA_STANDARD_TIME).date()


def is_new_registration(
    vehicle: Vehicle, inspected_on: date, purpose: InspectionPurpose = InspectionPurpose.UNRECORDED
) -> bool:
    if purpose is not InspectionPurpose.UNRECORDED:
        return purpose is InspectionPurpose.REGISTRATION
    return inspected_on <= vehicle.registration_date


def intensity_variant(
    vehicle: Vehicle, inspected_on: date, purpose: InspectionPurpose = InspectionPurpose.UNRECORDED
) -> str:
    age = "new" if is_new_registration(vehicle, inspected_on, purpose) else "in_use"
    lamps = "four_lamp" if vehicle.lamp_system is LampSystem.FOUR_LAMP else "two_lamp"
    return f"{age}.{lamps}"


def _find(lamps: Sequence[LampMeasurement], side: Side, beam: Beam) -> LampMeasurement | str:
    found = [lamp for lamp in lamps if lamp.side is side and lamp.beam is beam]
    if not found:
        return f"{side.value} lamp {beam.value} beam not measured"
    if len(found) > 1:
        return f"{side.value} lamp {beam.value} beam measured {len(found)} times: which one counts is unclear"
    return found[0]


def _position_problem(lamp: LampMeasurement) -> str | None:
    if lamp.lamp_height_mm <= 0:
        return f"{lamp.side.value} lamp: lamp centre height {lamp.lamp_height_mm} mm is impossible"
    if lamp.vertical_mm < 0:
        return f"{lamp.side.value} lamp {lamp.beam.value} beam: height {lamp.vertical_mm} mm below ground"
    return None


def _position_items(
    prefix: str,
    found: LampMeasurement | str,
    vertical: tuple[Limit, Limit],
    horizontal: tuple[Limit, Limit],
) -> list[VerdictItem]:
    problem = found if isinstance(found, str) else _position_problem(found)
    items = []
    for limit in vertical:
        code = f"{prefix}.vertical.{limit.bound.value}"
        if problem:
            items.append(unjudged_item(code, limit, problem))
            continue
        assert not isinstance(found, str)
        limit_mm = round_half_up(limit.value * found.lamp_height_mm, 2)
        note = f"{limit.value:g} H with H = {found.lamp_height_mm} mm"
        items.append(judged_item(code, limit, found.vertical_mm, note, limit_value=limit_mm))
    for limit in horizontal:
        code = f"{prefix}.horizontal.{limit.bound.value}"
        if problem:
            items.append(unjudged_item(code, limit, problem))
            continue
        assert not isinstance(found, str)
        items.append(judged_item(code, limit, found.horizontal_mm, "positive to the right"))
    return items


def judge_headlamps(
    vehicle: Vehicle,
    lamps: Sequence[LampMeasurement],
    inspected_on: date,
    limits: LimitTable = DEFAULT_LIMITS,
    *,
    purpose: InspectionPurpose = InspectionPurpose.UNRECORDED,
) -> tuple[VerdictItem, ...]:
    """Left then right lamp: high-beam intensity, [high-beam position], low-beam position."""
    intensity = limits.get(Rule.HIGH_BEAM_INTENSITY, intensity_variant(vehicle, inspected_on, purpose))
    kind = "M1" if vehicle.vehicle_class is VehicleClass.M1 else "other"
    low_vertical = (
        limits.get(Rule.LOW_BEAM_VERTICAL, f"{kind}.min"),
        limits.get(Rule.LOW_BEAM_VERTICAL, f"{kind}.max"),
    )
    low_horizontal = (
        limits.get(Rule.LOW_BEAM_HORIZONTAL, "min"),
        limits.get(Rule.LOW_BEAM_HORIZONTAL, "max"),
    )
    high_vertical = (limits.get(Rule.HIGH_BEAM_VERTICAL, "min"), limits.get(Rule.HIGH_BEAM_VERTICAL, "max"))
    high_horizontal = (
        limits.get(Rule.HIGH_BEAM_HORIZONTAL, "min"),
        limits.get(Rule.HIGH_BEAM_HORIZONTAL, "max"),
    )
    items: list[VerdictItem] = []
    for side in (Side.LEFT, Side.RIGHT):
        high = _find(lamps, side, Beam.HIGH)
        code = f"lamp.{side.value}.high.intensity.min"
        if isinstance(high, str):
            items.append(unjudged_item(code, intensity, high))
        elif high.intensity_cd < 0:
            items.append(unjudged_item(code, intensity, f"intensity {high.intensity_cd} cd is impossible"))
        else:
            items.append(judged_item(code, intensity, high.intensity_cd))
        if vehicle.high_beam_separately_adjustable:
            items.extend(_position_items(f"lamp.{side.value}.high", high, high_vertical, high_horizontal))
        low = _find(lamps, side, Beam.LOW)
        items.extend(_position_items(f"lamp.{side.value}.low", low, low_vertical, low_horizontal))
    return tuple(items)

"""Roller brake test rules: braking rates, imbalance, drag and parking brake (standards.md §2).

Theory of operation
-------------------
Every expected axle (1 .. ``vehicle.axle_count``) gets a service-brake rate item, an imbalance
item and one drag item per wheel; the vehicle gets a whole-vehicle service rate and a parking
brake rate. An item whose inputs are missing or impossible is CANNOT_JUDGE with the reason:

- a load that is ``None``, not finite or not positive;
- a force or drag that is ``None``, not finite or negative;
- a wheel force above ``MAX_ADHESION`` x wheel load x g (more than tyre on roller can transmit);
- for imbalance, a missing or malformed force curve.

A rate that fails on an axle where a wheel slipped (SLIP bits) becomes CANNOT_JUDGE "review":
the wheel locked before the limit could be reached, and GB 38900 then allows other evidence.

Percentages are rounded half up to one decimal and the rounded value is compared (limits.py).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Sequence

from inspection.measurements import AxleBrake, BrakeCurve, BrakeTest
from inspection.vehicle import Vehicle, VehicleClass
from inspection.verdict import Outcome, VerdictItem
from inspection.verdicts.limits import (
    DEFAULT_LIMITS,
    G_M_PER_S2,
    MAX_ADHESION,
    PERCENT_DECIMALS,
    Limit,
    LimitTable,
    Rule,
    judged_item,
    round_half_up,
    unjudged_item,
)

LIGHT_VEHICLE_MAX_TOTAL_MASS_KG = 3500  # "other vehicles <= 3,500 kg" (standards.md §2)
SLIP_REVIEW = "wheel slipped before the limit was reached: GB 38900 allows other evidence - review"


def is_front_axle(axle: int, vehicle: Vehicle) -> bool:
    """Whether ``axle`` is a front axle for the rules (standards.md §2 and §10).

    A trailer's axles (O classes) are all rear. Otherwise the vehicle's steered axles are its front
    axles ("front by position, steered axles flagged per vehicle", §10). A record without steered
    axles (from before they were kept) is read as before: axle k of n is ahead of the mid-point when
    k <= n // 2, and axle 1 always is - so its verdict is recomputed unchanged.
    """
    if vehicle.vehicle_class.is_trailer:
        return False
    if vehicle.steered_axles is not None:
        return axle in vehicle.steered_axles
    return axle == 1 or axle <= vehicle.axle_count // 2


def whole_vehicle_variant(vehicle: Vehicle, laden: bool) -> str:
    """The whole-vehicle service-brake limit's variant: articulated buses and road trains have their
    own (55 % / 45 % laden), every other vehicle 60 % / 50 % laden (standards.md §2, §10)."""
    combination = vehicle.articulated or vehicle.vehicle_class is VehicleClass.ROAD_TRAIN
    return ".".join(part for part in ("articulated" if combination else "", "laden" if laden else "") if part)


def is_light_vehicle(vehicle: Vehicle) -> bool:
    """Passenger cars (M1) and other vehicles of at most 3,500 kg total mass (rear axle 20 %)."""
    return (
        vehicle.vehicle_class is VehicleClass.M1
        or vehicle.max_total_mass_kg <= LIGHT_VEHICLE_MAX_TOTAL_MASS_KG
    )


def rate_pct(force_n: float, load_kg: float) -> float:
    """Braking (or drag) force as a percentage of the weight on the load, rounded as reported."""
    return round_half_up(force_n / (load_kg * G_M_PER_S2) * 100.0, PERCENT_DECIMALS)


# ------------------------------------------------------------------ validation


def _load_problem(axle: AxleBrake) -> str | None:
    for side, load in (("left", axle.left_load_kg), ("right", axle.right_load_kg)):
        if load is None:
            return f"axle {axle.axle}: {side} wheel load not available"
        if not math.isfinite(load) or load <= 0:
            return f"axle {axle.axle}: {side} wheel load {load} kg is impossible"
    return None


def _force_problem(axle: AxleBrake, test: BrakeTest) -> str | None:
    assert axle.left_load_kg is not None and axle.right_load_kg is not None  # checked before
    for side, force, load in (
        ("left", test.left_max_n, axle.left_load_kg),
        ("right", test.right_max_n, axle.right_load_kg),
    ):
        if force is None:
            return f"axle {axle.axle}: {side} {test.kind.value} brake force not available"
        if not math.isfinite(force) or force < 0:
            return f"axle {axle.axle}: {side} {test.kind.value} brake force {force} N is impossible"
        ceiling = MAX_ADHESION * load * G_M_PER_S2
        if force > ceiling:
            return (
                f"axle {axle.axle}: {side} {test.kind.value} brake force {force:g} N exceeds what a "
                f"{load:g} kg wheel can transmit ({MAX_ADHESION:g} x load x g = {ceiling:.0f} N)"
            )
    return None


def _problem(axle: AxleBrake, test: BrakeTest) -> str | None:
    return _load_problem(axle) or _force_problem(axle, test)


def _axle_load_kg(axle: AxleBrake) -> float:
    assert axle.left_load_kg is not None and axle.right_load_kg is not None
    return axle.left_load_kg + axle.right_load_kg


def _forces(test: BrakeTest) -> tuple[float, float]:
    assert test.left_max_n is not None and test.right_max_n is not None
    return test.left_max_n, test.right_max_n


def _slipped(test: BrakeTest) -> bool:
    return test.slip_left or test.slip_right


def _rate_item(code: str, limit: Limit, measured: float, slipped: bool) -> VerdictItem:
    item = judged_item(code, limit, measured)
    if item.outcome is Outcome.FAIL and slipped:
        return unjudged_item(code, limit, SLIP_REVIEW, measured)
    if slipped:
        return judged_item(code, limit, measured, "wheel slip noted")
    return item


# ------------------------------------------------------------------ imbalance


def force_build_up(curve: BrakeCurve, left_max_n: float, right_max_n: float, start_n: float) -> range:
    """Sample indices of the force build-up: from the start of braking until the larger force
    reaches its maximum (standards.md §2, our reading [mem] - change it here only).

    Braking starts at the first sample where either force exceeds ``start_n`` (the larger of the two
    drag forces: below it the rollers only feel drag). The larger force is the side with the larger
    reported maximum; on a tie the later of the two sides' peaks, so left and right are symmetric.
    """
    left, right = curve.left_n, curve.right_n
    extremes = curve.extremes
    left_peak = left.index(extremes.left_max)
    right_peak = right.index(extremes.right_max)
    if left_max_n > right_max_n:
        end = left_peak
    elif right_max_n > left_max_n:
        end = right_peak
    else:
        end = max(left_peak, right_peak)
    start = next((i for i in range(end + 1) if left[i] > start_n or right[i] > start_n), end)
    return range(start, end + 1)


def largest_difference_n(curve: BrakeCurve, span: range) -> int:
    # map over slices rather than a generator over indices: this was two thirds of judging the
    # brakes of a four-axle record (121 samples of build-up an axle, a Python step each).
    step = span.step
    left = curve.left_n[span.start : span.stop : step]
    right = curve.right_n[span.start : span.stop : step]
    differences: Iterator[int] = map(abs, map(operator.sub, left, right))
    return max(differences)


def _curve_problem(axle: int, curve: BrakeCurve | None) -> str | None:
    if curve is None:
        return f"axle {axle}: no brake force curve in the record"
    if not curve.left_n or not curve.right_n:
        return f"axle {axle}: brake force curve is empty"
    if len(curve.left_n) != len(curve.right_n):
        return f"axle {axle}: left curve has {len(curve.left_n)} samples, right {len(curve.right_n)}"
    if curve.sample_rate_hz <= 0:
        return f"axle {axle}: curve sample rate {curve.sample_rate_hz} Hz is impossible"
    extremes = curve.extremes
    assert extremes.left_min is not None and extremes.right_min is not None  # both sides hold samples
    if extremes.left_min < 0 or extremes.right_min < 0:
        return f"axle {axle}: brake force curve has negative samples"
    return None


def _curve_ceiling_problem(axle: AxleBrake, curve: BrakeCurve) -> str | None:
    # Samples are whole newtons: one newton of rounding is allowed above the physical ceiling.
    assert axle.left_load_kg is not None and axle.right_load_kg is not None
    extremes = curve.extremes
    for side, peak, load in (
        ("left", extremes.left_max, axle.left_load_kg),
        ("right", extremes.right_max, axle.right_load_kg),
    ):
        ceiling = MAX_ADHESION * load * G_M_PER_S2 + 1.0
        if peak is not None and peak > ceiling:
            return (
                f"axle {axle.axle}: {side} curve peak {peak} N exceeds what a {load:g} kg wheel can transmit"
            )
    return None


def imbalance_item(vehicle: Vehicle, axle: AxleBrake, limits: LimitTable = DEFAULT_LIMITS) -> VerdictItem:
    """Front axles: largest difference / larger max force <= 20 %. Other axles: the same <= 24 %
    when the axle rate is at least 60 %, else largest difference / (axle load x g) <= 8 %."""
    code = f"brake.service.axle{axle.axle}.imbalance.max"
    front = is_front_axle(axle.axle, vehicle)
    test = axle.service
    fallback = limits.get(Rule.IMBALANCE_FRONT if front else Rule.IMBALANCE_OTHER)
    problem = _problem(axle, test) or _curve_problem(axle.axle, test.curve)
    if problem is None:
        assert test.curve is not None
        problem = _curve_ceiling_problem(axle, test.curve)
    if problem:
        return unjudged_item(code, fallback, problem)
    assert test.curve is not None
    left, right = _forces(test)
    load_kg = _axle_load_kg(axle)
    start_n = max(test.left_drag_n or 0.0, test.right_drag_n or 0.0)
    difference = largest_difference_n(test.curve, force_build_up(test.curve, left, right, start_n))
    larger = max(left, right)
    if front or rate_pct(left + right, load_kg) >= limits.get(Rule.IMBALANCE_OTHER_THRESHOLD).value:
        if larger <= 0:
            return unjudged_item(code, fallback, f"axle {axle.axle}: no brake force on either wheel")
        measured = round_half_up(difference / larger * 100.0, PERCENT_DECIMALS)
        return judged_item(
            code, fallback, measured, f"largest difference {difference} N / larger force {larger:g} N"
        )
    low = limits.get(Rule.IMBALANCE_OTHER_LOW_FORCE)
    measured = rate_pct(difference, load_kg)
    return judged_item(
        code,
        low,
        measured,
        f"axle force below 60 % of load: largest difference {difference} N / (axle load x g)",
    )


# ------------------------------------------------------------------ per axle, vehicle, parking


def axle_rate_item(vehicle: Vehicle, axle: AxleBrake, limits: LimitTable = DEFAULT_LIMITS) -> VerdictItem:
    code = f"brake.service.axle{axle.axle}.rate.min"
    if is_front_axle(axle.axle, vehicle):
        limit = limits.get(Rule.SERVICE_FRONT_AXLE_RATE)
    else:
        limit = limits.get(Rule.SERVICE_REAR_AXLE_RATE, "light" if is_light_vehicle(vehicle) else "other")
    problem = _problem(axle, axle.service)
    if problem:
        return unjudged_item(code, limit, problem)
    left, right = _forces(axle.service)
    return _rate_item(code, limit, rate_pct(left + right, _axle_load_kg(axle)), _slipped(axle.service))


def drag_items(axle: AxleBrake, limits: LimitTable = DEFAULT_LIMITS) -> tuple[VerdictItem, VerdictItem]:
    """Each wheel's drag (brake released, rollers turning) / (axle load x g) (standards.md §2)."""
    limit = limits.get(Rule.DRAG)
    items = []
    service = axle.service
    for side, drag, wheel_load in (
        ("left", service.left_drag_n, axle.left_load_kg),
        ("right", service.right_drag_n, axle.right_load_kg),
    ):
        code = f"brake.service.axle{axle.axle}.drag.{side}.max"
        problem = _load_problem(axle) or _drag_problem(axle.axle, side, drag, wheel_load)
        if problem:
            items.append(unjudged_item(code, limit, problem))
        else:
            assert drag is not None
            items.append(judged_item(code, limit, rate_pct(drag, _axle_load_kg(axle))))
    return items[0], items[1]


def _drag_problem(axle: int, side: str, drag: float | None, wheel_load_kg: float | None) -> str | None:
    if drag is None:
        return f"axle {axle}: {side} drag force not available"
    if not math.isfinite(drag) or drag < 0:
        return f"axle {axle}: {side} drag force {drag} N is impossible"
    assert wheel_load_kg is not None  # loads are checked first
    if drag > MAX_ADHESION * wheel_load_kg * G_M_PER_S2:
        return f"axle {axle}: {side} drag force {drag:g} N exceeds what a {wheel_load_kg:g} kg wheel can transmit"
    return None


def _axles_by_number(vehicle: Vehicle, axles: Sequence[AxleBrake]) -> tuple[dict[int, AxleBrake], str | None]:
    by_number: dict[int, AxleBrake] = {}
    problem = None
    for axle in axles:
        if axle.axle in by_number:
            problem = f"axle {axle.axle} appears twice in the record"
        elif not 1 <= axle.axle <= vehicle.axle_count:
            problem = f"record has axle {axle.axle}, the vehicle has {vehicle.axle_count} axles"
        by_number.setdefault(axle.axle, axle)
    return by_number, problem


def vehicle_rate_item(
    vehicle: Vehicle, axles: Sequence[AxleBrake], limits: LimitTable = DEFAULT_LIMITS, *, laden: bool = False
) -> VerdictItem:
    """Sum of every wheel's max service force / (sum of axle loads x g); laden limits when ``laden``."""
    code = "brake.service.vehicle.rate.min"
    limit = limits.get(Rule.SERVICE_VEHICLE_RATE, whole_vehicle_variant(vehicle, laden))
    by_number, problem = _axles_by_number(vehicle, axles)
    if vehicle.axle_count < 1:
        problem = f"vehicle has {vehicle.axle_count} axles"
    force = load = 0.0
    for number in range(1, vehicle.axle_count + 1):
        axle = by_number.get(number)
        if axle is None:
            problem = problem or f"axle {number} was not tested"
            continue
        problem = problem or _problem(axle, axle.service)
        if problem is None:
            force += sum(_forces(axle.service))
            load += _axle_load_kg(axle)
    if problem:
        return unjudged_item(code, limit, problem)
    slipped = any(_slipped(a.service) for a in by_number.values())
    return _rate_item(code, limit, rate_pct(force, load), slipped)


def parking_rate_item(
    vehicle: Vehicle, axles: Sequence[AxleBrake], limits: LimitTable = DEFAULT_LIMITS
) -> VerdictItem:
    """Sum of parking forces / (vehicle weight as tested x g) >= 20 %, or >= 15 % when the total
    mass is below 1.2 x the curb mass (the vehicle is then tested near its full weight)."""
    code = "brake.parking.vehicle.rate.min"
    ratio = limits.get(Rule.PARKING_LIGHT_LOAD_MASS_RATIO).value
    light_load = vehicle.max_total_mass_kg < ratio * vehicle.curb_mass_kg
    limit = limits.get(Rule.PARKING_RATE, "light_load" if light_load else "")
    by_number, problem = _axles_by_number(vehicle, axles)
    if vehicle.axle_count < 1:
        problem = f"vehicle has {vehicle.axle_count} axles"
    if not vehicle.parking_brake_axles and not any(a.parking for a in axles):
        problem = problem or "no parking brake axle configured for the vehicle and no parking test recorded"
    force = load = 0.0
    slipped = False
    for number in range(1, vehicle.axle_count + 1):
        axle = by_number.get(number)
        if axle is None:
            problem = problem or f"axle {number} was not tested (its load is part of the vehicle weight)"
            continue
        problem = problem or _load_problem(axle)
        if axle.parking is None:
            if number in vehicle.parking_brake_axles:
                problem = problem or f"axle {number}: parking brake not tested"
        else:
            problem = problem or _force_problem(axle, axle.parking)
            if problem is None:
                force += sum(_forces(axle.parking))
                slipped = slipped or _slipped(axle.parking)
        if problem is None:
            load += _axle_load_kg(axle)
    if problem:
        return unjudged_item(code, limit, problem)
    return _rate_item(code, limit, rate_pct(force, load), slipped)


def judge_brakes(
    vehicle: Vehicle, axles: Sequence[AxleBrake], limits: LimitTable = DEFAULT_LIMITS, *, laden: bool = False
) -> tuple[VerdictItem, ...]:
    """All brake items for the vehicle, in axle order; an untested axle's items say so.

    Tested laden (``laden``): the whole vehicle is judged against the laden limits and a rear
    axle's rate is not judged (standards.md §2: "not judged when laden"), so it has no rate item.
    """
    by_number, _ = _axles_by_number(vehicle, axles)
    items: list[VerdictItem] = []
    for number in range(1, vehicle.axle_count + 1):
        axle = by_number.get(number)
        judge_rate = not (laden and not is_front_axle(number, vehicle))
        if axle is None:
            untested = _untested_axle_items(vehicle, number, limits)
            items.extend(untested if judge_rate else untested[1:])
            continue
        if judge_rate:
            items.append(axle_rate_item(vehicle, axle, limits))
        items.append(imbalance_item(vehicle, axle, limits))
        items.extend(drag_items(axle, limits))
    items.append(vehicle_rate_item(vehicle, axles, limits, laden=laden))
    items.append(parking_rate_item(vehicle, axles, limits))
    return tuple(items)


def _untested_axle_items(vehicle: Vehicle, number: int, limits: LimitTable) -> list[VerdictItem]:
    reason = f"axle {number} was not tested"
    front = is_front_axle(number, vehicle)
    if front:
        rate = limits.get(Rule.SERVICE_FRONT_AXLE_RATE)
    else:
        rate = limits.get(Rule.SERVICE_REAR_AXLE_RATE, "light" if is_light_vehicle(vehicle) else "other")
    imbalance = limits.get(Rule.IMBALANCE_FRONT if front else Rule.IMBALANCE_OTHER)
    drag = limits.get(Rule.DRAG)
    return [
        unjudged_item(f"brake.service.axle{number}.rate.min", rate, reason),
        unjudged_item(f"brake.service.axle{number}.imbalance.max", imbalance, reason),
        unjudged_item(f"brake.service.axle{number}.drag.left.max", drag, reason),
        unjudged_item(f"brake.service.axle{number}.drag.right.max", drag, reason),
    ]

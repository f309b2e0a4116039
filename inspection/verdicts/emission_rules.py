"""Emission rules: petrol two-speed idle (GB 18285-2018) and diesel free acceleration (GB 3847-2018).

Which procedure a fuel needs is decided here (``required_procedure``), the same way the lane picks
the bench: petrol, petrol hybrids and gas engines on the gas analyser; diesel on the opacity meter;
electric vehicles have no emission test. A record without a run gets no emission items unless the
fuel needs one, and then every item of that procedure is CANNOT_JUDGE "missing".

Two-speed idle (standards.md §4): each phase's result is the mean of its measured seconds. A reading
flagged dilution or low flow, or with CO + CO2 below 6 %vol, invalidates the whole run, as does a
reading with a value that is not finite or is negative; every item then says why.

Free acceleration (standards.md §5): the mean of exactly three peak K values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

from inspection.measurements import EmissionRun, FreeAccelerationRun, GasReading, LimitSet, TwoSpeedIdleRun
from inspection.vehicle import Fuel, Vehicle
from inspection.verdict import VerdictItem
from inspection.verdicts.limits import (
    CO_DECIMALS,
    DEFAULT_LIMITS,
    FREE_ACCELERATION_COUNT,
    HC_DECIMALS,
    K_DECIMALS,
    LAMBDA_DECIMALS,
    Limit,
    LimitTable,
    Rule,
    judged_item,
    round_half_up,
    unjudged_item,
)

# With no run there is no limit set to judge against; the unjudged items still name a clause and a
# unit, and take them from set "a" (the clause text is the same for both sets).
_CLAUSE_SET_WITHOUT_RUN = LimitSet.A


class Procedure(StrEnum):
    TWO_SPEED_IDLE = "two_speed_idle"
    FREE_ACCELERATION = "free_acceleration"


# GB 18285 covers petrol and gas-fuelled engines (a petrol hybrid is tested on its engine); GB 3847
# covers diesel. The lane (station_agent/lane.py) makes the same choice of bench.
_PROCEDURE_BY_FUEL: dict[Fuel, Procedure | None] = {
    Fuel.PETROL: Procedure.TWO_SPEED_IDLE,
    Fuel.HYBRID_PETROL: Procedure.TWO_SPEED_IDLE,
    Fuel.GAS: Procedure.TWO_SPEED_IDLE,
    Fuel.DIESEL: Procedure.FREE_ACCELERATION,
    Fuel.ELECTRIC: None,
}


def required_procedure(fuel: Fuel) -> Procedure | None:
    return _PROCEDURE_BY_FUEL[fuel]


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


# ------------------------------------------------------------------ two-speed idle

# (code, rule, phase, reading field, decimals, variant suffix) for each item, in report order.
_TSI_ITEMS = (
    ("emission.tsi.low_idle.co.max", Rule.TSI_LOW_IDLE_CO, "low_idle", "co_pct", CO_DECIMALS, ""),
    ("emission.tsi.low_idle.hc.max", Rule.TSI_LOW_IDLE_HC, "low_idle", "hc_ppm", HC_DECIMALS, ""),
    ("emission.tsi.high_idle.co.max", Rule.TSI_HIGH_IDLE_CO, "high_idle", "co_pct", CO_DECIMALS, ""),
    ("emission.tsi.high_idle.hc.max", Rule.TSI_HIGH_IDLE_HC, "high_idle", "hc_ppm", HC_DECIMALS, ""),
    (
        "emission.tsi.high_idle.lambda.min",
        Rule.TSI_HIGH_IDLE_LAMBDA,
        "high_idle",
        "lambda_",
        LAMBDA_DECIMALS,
        ".min",
    ),
    (
        "emission.tsi.high_idle.lambda.max",
        Rule.TSI_HIGH_IDLE_LAMBDA,
        "high_idle",
        "lambda_",
        LAMBDA_DECIMALS,
        ".max",
    ),
)


def _tsi_limit(limits: LimitTable, rule: Rule, limit_set: LimitSet, suffix: str) -> Limit:
    return limits.get(rule, limit_set.value + suffix)


def _reading_problem(phase: str, reading: GasReading, dilution_floor: float) -> str | None:
    values = (reading.hc_ppm, reading.co_pct, reading.co2_pct, reading.o2_pct, reading.lambda_)
    where = f"{phase} reading at t = {reading.t_s:g} s"
    if not all(math.isfinite(v) and v >= 0 for v in values):
        return f"{where}: a gas value is not a finite non-negative number: run invalid"
    if reading.low_flow:
        return f"{where}: analyser reported low flow: run invalid"
    if reading.dilution or reading.co_pct + reading.co2_pct < dilution_floor:
        return (
            f"{where}: diluted (CO + CO2 = {reading.co_pct + reading.co2_pct:g} %vol, "
            f"below {dilution_floor:g}): run invalid"
        )
    return None


def _tsi_problem(run: TwoSpeedIdleRun, limits: LimitTable) -> str | None:
    floor = limits.get(Rule.TSI_DILUTION_CO_PLUS_CO2).value
    for phase, readings in (("high idle", run.high_idle), ("low idle", run.low_idle)):
        if not readings:
            return f"no {phase} readings in the record"
        for reading in readings:
            problem = _reading_problem(phase, reading, floor)
            if problem:
                return problem
    return None


def two_speed_idle_items(
    run: TwoSpeedIdleRun | None, limits: LimitTable = DEFAULT_LIMITS, missing: str = ""
) -> tuple[VerdictItem, ...]:
    """CO and HC at low and high idle, lambda at high idle; ``missing`` (with ``run`` None) says why."""
    limit_set = run.limit_set if run is not None else _CLAUSE_SET_WITHOUT_RUN
    problem = missing or ("no two-speed idle run" if run is None else _tsi_problem(run, limits))
    items = []
    for code, rule, phase, field_name, decimals, suffix in _TSI_ITEMS:
        limit = _tsi_limit(limits, rule, limit_set, suffix)
        if problem:
            items.append(unjudged_item(code, limit, problem))
            continue
        assert run is not None
        readings = run.low_idle if phase == "low_idle" else run.high_idle
        measured = round_half_up(_mean([getattr(r, field_name) for r in readings]), decimals)
        items.append(judged_item(code, limit, measured, f"mean of {len(readings)} readings"))
    return tuple(items)


# ------------------------------------------------------------------ free acceleration


def free_acceleration_item(
    run: FreeAccelerationRun | None, limits: LimitTable = DEFAULT_LIMITS, missing: str = ""
) -> VerdictItem:
    code = "emission.free_acceleration.k.max"
    limit_set = run.limit_set if run is not None else _CLAUSE_SET_WITHOUT_RUN
    limit = limits.get(Rule.FREE_ACCELERATION_K, limit_set.value)
    if missing or run is None:
        return unjudged_item(code, limit, missing or "no free acceleration run")
    if len(run.k_per_m) != FREE_ACCELERATION_COUNT:
        return unjudged_item(
            code,
            limit,
            f"{len(run.k_per_m)} measured accelerations, the result needs {FREE_ACCELERATION_COUNT}",
        )
    if not all(math.isfinite(k) and k >= 0 for k in run.k_per_m):
        return unjudged_item(code, limit, f"impossible K values {list(run.k_per_m)}")
    measured = round_half_up(_mean(run.k_per_m), K_DECIMALS)
    peaks = ", ".join(f"{k:g}" for k in run.k_per_m)
    return judged_item(code, limit, measured, f"mean of K = {peaks}")


def judge_emission(
    vehicle: Vehicle, run: EmissionRun | None, limits: LimitTable = DEFAULT_LIMITS
) -> tuple[VerdictItem, ...]:
    needed = required_procedure(vehicle.fuel)
    if run is None:
        missing = f"{vehicle.fuel.value} vehicle: emission test missing from the record"
        if needed is Procedure.TWO_SPEED_IDLE:
            return two_speed_idle_items(None, limits, missing)
        if needed is Procedure.FREE_ACCELERATION:
            return (free_acceleration_item(None, limits, missing),)
        return ()
    if isinstance(run, TwoSpeedIdleRun):
        if needed is Procedure.FREE_ACCELERATION:
            return (
                free_acceleration_item(
                    None, limits, "diesel vehicle: record holds a two-speed idle run instead"
                ),
            )
        return two_speed_idle_items(run, limits)
    if needed is Procedure.TWO_SPEED_IDLE:
        wrong = f"{vehicle.fuel.value} vehicle: record holds a free acceleration run instead"
        return two_speed_idle_items(None, limits, wrong)
    return (free_acceleration_item(run, limits),)

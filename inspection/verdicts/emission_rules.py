"""Emission rules: which test a vehicle takes, and the no-load tests: petrol two-speed idle
(GB 18285-2018) and diesel free acceleration (GB 3847-2018). The loaded tests on a dynamometer (ASM,
lug-down) are judged in ``loaded_emission_rules``.

Which procedure a vehicle needs is decided here (``required_procedure``), the same way the lane picks
the benches: petrol, petrol hybrids and gas engines take ASM on the dynamometer, diesels lug-down;
a vehicle that cannot go on the rollers (full-time all-wheel drive), or a lane without a
dynamometer, takes two-speed idle or free acceleration instead (standards.md §10); electric
vehicles have no emission test. A record may hold either method of the vehicle's standard
(``accepted_procedures``: records from lanes without a dynamometer, and from before them, stay
judgeable); a run of the other standard, or a loaded run of a vehicle that cannot be loaded, is
judged as missing. A record without a run gets the items of the required procedure, every one
CANNOT_JUDGE "missing".

Two-speed idle (standards.md §4): each phase's result is the mean of its measured seconds. A reading
flagged dilution or low flow, or with CO + CO2 below 6 %vol, invalidates the whole run, as does a
reading with a value that is not finite or is negative; every item then says why.

Free acceleration (standards.md §5): the mean of exactly three peak K values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

from inspection.measurements import (
    AsmRun,
    EmissionRun,
    FreeAccelerationRun,
    GasReading,
    LimitSet,
    LugDownRun,
    TwoSpeedIdleRun,
)
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
from inspection.verdicts.loaded_emission_rules import asm_items, lug_down_items

# With no run there is no limit set to judge against; the unjudged items still name a clause and a
# unit, and take them from set "a" (the clause text is the same for both sets).
_CLAUSE_SET_WITHOUT_RUN = LimitSet.A


class Procedure(StrEnum):
    TWO_SPEED_IDLE = "two_speed_idle"
    FREE_ACCELERATION = "free_acceleration"
    ASM = "asm"
    LUG_DOWN = "lug_down"


class Standard(StrEnum):
    GB_18285 = "GB 18285-2018"  # spark ignition: petrol, gas, petrol hybrids (tested on the engine)
    GB_3847 = "GB 3847-2018"  # compression ignition: diesel


_STANDARD_BY_FUEL: dict[Fuel, Standard | None] = {
    Fuel.PETROL: Standard.GB_18285,
    Fuel.HYBRID_PETROL: Standard.GB_18285,
    Fuel.GAS: Standard.GB_18285,
    Fuel.DIESEL: Standard.GB_3847,
    Fuel.ELECTRIC: None,
}
# (loaded method on a dynamometer, no-load fallback) per standard (standards.md §10).
_METHODS: dict[Standard, tuple[Procedure, Procedure]] = {
    Standard.GB_18285: (Procedure.ASM, Procedure.TWO_SPEED_IDLE),
    Standard.GB_3847: (Procedure.LUG_DOWN, Procedure.FREE_ACCELERATION),
}


# How a person names each test (notes, the demo's table).
PROCEDURE_NAME = {
    Procedure.TWO_SPEED_IDLE: "two-speed idle",
    Procedure.FREE_ACCELERATION: "free acceleration",
    Procedure.ASM: "ASM",
    Procedure.LUG_DOWN: "lug-down",
}


def fits_on_rollers(vehicle: Vehicle) -> bool:
    """A two-roller dynamometer drives one axle: a full-time all-wheel drive cannot be tested on it."""
    return not vehicle.full_time_awd


def required_procedure(vehicle: Vehicle, *, dynamometer: bool = True) -> Procedure | None:
    """The emission test a vehicle takes: the loaded method on a dynamometer (ASM for spark ignition,
    lug-down for diesel); the no-load fallback (two-speed idle, free acceleration) for a vehicle that
    cannot go on the rollers, or at a lane without a dynamometer (``dynamometer=False``). The lane
    picks its benches with this, so lane and judge cannot drift apart."""
    standard = _STANDARD_BY_FUEL[vehicle.fuel]
    if standard is None:
        return None
    loaded, fallback = _METHODS[standard]
    return loaded if dynamometer and fits_on_rollers(vehicle) else fallback


def accepted_procedures(vehicle: Vehicle) -> tuple[Procedure, ...]:
    """The runs a record may hold for this vehicle: its standard's loaded method (when it fits on the
    rollers) and the fallback (a lane without a dynamometer, and every record from before them)."""
    standard = _STANDARD_BY_FUEL[vehicle.fuel]
    if standard is None:
        return ()
    loaded, fallback = _METHODS[standard]
    return (loaded, fallback) if fits_on_rollers(vehicle) else (fallback,)


def procedure_of(run: EmissionRun) -> Procedure:
    if isinstance(run, TwoSpeedIdleRun):
        return Procedure.TWO_SPEED_IDLE
    if isinstance(run, FreeAccelerationRun):
        return Procedure.FREE_ACCELERATION
    if isinstance(run, AsmRun):
        return Procedure.ASM
    return Procedure.LUG_DOWN


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


def procedure_items(
    procedure: Procedure, run: EmissionRun | None, limits: LimitTable = DEFAULT_LIMITS, missing: str = ""
) -> tuple[VerdictItem, ...]:
    """The items of ``procedure``: judged on ``run``, or CANNOT_JUDGE for ``missing``."""
    if procedure is Procedure.TWO_SPEED_IDLE:
        return two_speed_idle_items(run if isinstance(run, TwoSpeedIdleRun) else None, limits, missing)
    if procedure is Procedure.FREE_ACCELERATION:
        return (
            free_acceleration_item(run if isinstance(run, FreeAccelerationRun) else None, limits, missing),
        )
    if procedure is Procedure.ASM:
        return asm_items(run if isinstance(run, AsmRun) else None, limits, missing)
    return lug_down_items(run if isinstance(run, LugDownRun) else None, limits, missing)


def judge_emission(
    vehicle: Vehicle, run: EmissionRun | None, limits: LimitTable = DEFAULT_LIMITS
) -> tuple[VerdictItem, ...]:
    needed = required_procedure(vehicle)
    if needed is None:
        return ()
    if run is None:
        missing = f"{vehicle.fuel.value} vehicle: emission test missing from the record"
        return procedure_items(needed, None, limits, missing)
    procedure = procedure_of(run)
    if procedure not in accepted_procedures(vehicle):
        loaded = procedure in (Procedure.ASM, Procedure.LUG_DOWN)
        why = " on a vehicle that cannot go on the rollers" if loaded and not fits_on_rollers(vehicle) else ""
        wrong = f"{vehicle.fuel.value} vehicle: record holds a {PROCEDURE_NAME[procedure]} run{why} instead"
        return procedure_items(needed, None, limits, wrong)
    return procedure_items(procedure, run, limits)

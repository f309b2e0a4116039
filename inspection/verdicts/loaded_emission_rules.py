"""Emission rules for the loaded tests on a chassis dynamometer: petrol ASM and diesel lug-down.

ASM (GB 18285-2018, standards.md §10). Each phase (ASM5025, ASM2540) is judged on a 10-second
average: the first ten measured seconds when the phase ended on a fast pass, otherwise the last ten
(the phase measured on to 90 s). Before averaging, every second's HC, CO and NO are corrected for
dilution (DF, from CO and CO2) and NO also for humidity (kH, from the ambient air):

    H  = 6.211 Ra Pd / (Pb - Pd Ra / 100)       g water per kg dry air; Ra % relative humidity,
                                                Pd saturation pressure at the air temperature (kPa),
                                                Pb barometric pressure (kPa)
    kH = 1 / (1 - c (H - H0))                   c, H0: ``Rule.ASM_KH_*``
    x  = CO2 / (CO2 + CO)
    DF = (100 x / (4.644 + 1.88 x)) / (CO2 + CO), within 1 .. ``Rule.ASM_DF_MAX``

(the numerator is the CO2 + CO an undiluted petrol exhaust would hold; Pd by the Magnus formula).
A phase is invalid - every item CANNOT_JUDGE, with the reason - when it holds fewer than ten
seconds, a second flagged low flow or diluted (CO + CO2 below the floor), a run of seconds outside
the phase's speed window longer than the excursion allowed (for which the lane restarts the phase:
``speed_excursion`` is the one test both use), or a fast pass its own first average does not bear
out.

Lug-down (GB 3847-2018, standards.md §10): K at 100, 90 and 80 % of VelMaxHP (each the mean of the
hold's seconds), NOx at 80 % (mean NO), and the highest wheel power of the scan against the rated
engine power. The maximum is taken from the scan's seconds, not from the record's summary field,
so a hub recomputes it from what was measured.

Every constant is in ``limits.DEFAULT_LIMITS`` with its evidence; every function is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from inspection.measurements import Ambient, AsmMode, AsmPhase, AsmRun, LimitSet, LoadedSecond, LugDownRun
from inspection.verdict import VerdictItem
from inspection.verdicts.limits import (
    ASM_AVERAGE_S,
    CO_DECIMALS,
    DEFAULT_LIMITS,
    HC_DECIMALS,
    K_DECIMALS,
    NO_DECIMALS,
    PERCENT_DECIMALS,
    LimitTable,
    Rule,
    judged_item,
    round_half_up,
    unjudged_item,
)

ASM_SPEED_KMH = {AsmMode.ASM5025: 25.0, AsmMode.ASM2540: 40.0}
_ASM_RULES = {
    AsmMode.ASM5025: (("co", Rule.ASM5025_CO), ("hc", Rule.ASM5025_HC), ("no", Rule.ASM5025_NO)),
    AsmMode.ASM2540: (("co", Rule.ASM2540_CO), ("hc", Rule.ASM2540_HC), ("no", Rule.ASM2540_NO)),
}
_DECIMALS = {"co": CO_DECIMALS, "hc": HC_DECIMALS, "no": NO_DECIMALS}
LUG_DOWN_FRACTIONS = (100, 90, 80)
NOX_FRACTION = 80
_WITHOUT_RUN = LimitSet.A  # clause and unit of unjudged items when there is no run


# ------------------------------------------------------------------ corrections


def saturation_pressure_kpa(temperature_c: float) -> float:
    """Water's saturation vapour pressure over a flat surface (Magnus formula)."""
    return 0.61094 * math.exp(17.625 * temperature_c / (temperature_c + 243.04))


def humidity_g_per_kg(ambient: Ambient) -> float:
    pd = saturation_pressure_kpa(ambient.temperature_c)
    ra = ambient.relative_humidity_pct
    return 6.211 * ra * pd / (ambient.pressure_kpa - pd * ra / 100)


def humidity_factor(ambient: Ambient, limits: LimitTable = DEFAULT_LIMITS) -> float:
    c = limits.get(Rule.ASM_KH_COEFFICIENT).value
    h0 = limits.get(Rule.ASM_KH_REFERENCE_HUMIDITY).value
    return 1 / (1 - c * (humidity_g_per_kg(ambient) - h0))


def dilution_factor(co_pct: float, co2_pct: float, limits: LimitTable = DEFAULT_LIMITS) -> float:
    total = co_pct + co2_pct
    cap = limits.get(Rule.ASM_DF_MAX).value
    if not total > 0:
        return (
            cap  # no exhaust at all in the probe: as diluted as the factor goes (the run is invalid anyway)
        )
    x = co2_pct / total
    undiluted = 100 * x / (4.644 + 1.88 * x)
    return min(max(undiluted / total, 1.0), cap)


@dataclass(frozen=True, slots=True)
class AsmAverages:
    """A phase's 10-second averages, corrected and rounded as reported."""

    co: float
    hc: float
    no: float

    def of(self, gas: str) -> float:
        value: float = getattr(self, gas)
        return value


def asm_averages(
    seconds: Sequence[LoadedSecond], ambient: Ambient, limits: LimitTable = DEFAULT_LIMITS
) -> AsmAverages:
    """Averages of the dilution- (and for NO humidity-) corrected gases over ``seconds``."""
    kh = humidity_factor(ambient, limits)
    co, hc, no = [], [], []
    for second in seconds:
        df = dilution_factor(second.co_pct, second.co2_pct, limits)
        co.append(second.co_pct * df)
        hc.append(second.hc_ppm * df)
        no.append(second.no_ppm * df * kh)
    return AsmAverages(
        co=round_half_up(_mean(co), CO_DECIMALS),
        hc=round_half_up(_mean(hc), HC_DECIMALS),
        no=round_half_up(_mean(no), NO_DECIMALS),
    )


def asm_fast_pass(
    mode: AsmMode, averages: AsmAverages, limit_set: LimitSet, limits: LimitTable = DEFAULT_LIMITS
) -> bool:
    """Every average within the fast-pass fraction of its limit."""
    fraction = limits.get(Rule.ASM_FAST_PASS_FRACTION).value
    return all(
        averages.of(gas) <= fraction * limits.get(rule, limit_set.value).value
        for gas, rule in _ASM_RULES[mode]
    )


def asm_speed_window(mode: AsmMode, limits: LimitTable = DEFAULT_LIMITS) -> tuple[float, float]:
    tolerance = limits.get(Rule.ASM_SPEED_TOLERANCE).value
    nominal = ASM_SPEED_KMH[mode]
    return nominal - tolerance, nominal + tolerance


def asm_setpoint_kw(mode: AsmMode, reference_mass_kg: float, parasitic_kw: float, divisor: float) -> float:
    """The absorbed power to command: RM / divisor (148 at 25 km/h, 185 at 40 km/h) less parasitic."""
    return max(0.0, reference_mass_kg / divisor - parasitic_kw)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


# ------------------------------------------------------------------ ASM


def fast_pass_after(
    mode: AsmMode,
    seconds: Sequence[LoadedSecond],
    ambient: Ambient,
    limit_set: LimitSet,
    limits: LimitTable = DEFAULT_LIMITS,
) -> bool:
    """Whether a phase may end on a fast pass with these first ten seconds: all of them valid, and
    every corrected average within the fast-pass fraction. The lane stops a phase on it; the rules
    hold a recorded fast pass against it."""
    if len(seconds) != ASM_AVERAGE_S:
        return False
    floor = limits.get(Rule.ASM_DILUTION_CO_PLUS_CO2).value
    if any(_second_problem(second, floor) for second in seconds) or speed_excursion(seconds, mode, limits):
        return False
    return asm_fast_pass(mode, asm_averages(seconds, ambient, limits), limit_set, limits)


def judged_seconds(phase: AsmPhase) -> tuple[LoadedSecond, ...]:
    """The ten seconds a phase is judged on: its first ten on a fast pass, else its last ten."""
    if phase.fast_pass:
        return phase.seconds[:ASM_AVERAGE_S]
    return phase.seconds[-ASM_AVERAGE_S:]


def _second_problem(second: LoadedSecond, floor: float) -> str | None:
    where = f"t = {second.t_s:g} s"
    values = (second.speed_kmh, second.hc_ppm, second.co_pct, second.co2_pct, second.no_ppm)
    if not all(math.isfinite(v) and v >= 0 for v in values):
        return f"{where}: a value is not a finite non-negative number"
    if second.low_flow:
        return f"{where}: analyser reported low flow"
    if second.dilution or second.co_pct + second.co2_pct < floor:
        return f"{where}: diluted (CO + CO2 = {second.co_pct + second.co2_pct:g} %vol, below {floor:g})"
    return None


def speed_excursion(
    seconds: Sequence[LoadedSecond], mode: AsmMode, limits: LimitTable = DEFAULT_LIMITS
) -> str | None:
    """Why the speed left its window for longer than allowed (the lane restarts the phase for it),
    or None. Seconds apart are taken as the time between them."""
    low, high = asm_speed_window(mode, limits)
    allowed = limits.get(Rule.ASM_SPEED_EXCURSION).value
    left_at: float | None = None
    for second in seconds:
        if low <= second.speed_kmh <= high:
            left_at = None
            continue
        if left_at is None:
            left_at = second.t_s
        if second.t_s - left_at > allowed:
            return (
                f"roller speed {second.speed_kmh:g} km/h outside {low:g}-{high:g} km/h for more than "
                f"{allowed:g} s (t = {left_at:g}-{second.t_s:g} s)"
            )
    return None


def _phase_problem(phase: AsmPhase, run: AsmRun, limits: LimitTable) -> str | None:
    if len(phase.seconds) < ASM_AVERAGE_S:
        return f"{len(phase.seconds)} measured seconds, the average needs {ASM_AVERAGE_S}"
    floor = limits.get(Rule.ASM_DILUTION_CO_PLUS_CO2).value
    for second in phase.seconds:
        problem = _second_problem(second, floor)
        if problem:
            return f"{problem}: phase invalid"
    excursion = speed_excursion(phase.seconds, phase.mode, limits)
    if excursion:
        return f"{excursion}: phase invalid"
    if phase.fast_pass:
        first = asm_averages(phase.seconds[:ASM_AVERAGE_S], run.ambient, limits)
        if not asm_fast_pass(phase.mode, first, run.limit_set, limits):
            return (
                "fast pass recorded, but the first 10-second averages are not within the fast-pass fraction"
            )
    return None


def asm_items(
    run: AsmRun | None, limits: LimitTable = DEFAULT_LIMITS, missing: str = ""
) -> tuple[VerdictItem, ...]:
    """CO, HC and NO (corrected) of ASM5025 and of ASM2540; ``missing`` (with ``run`` None) says why."""
    limit_set = run.limit_set if run is not None else _WITHOUT_RUN
    items = []
    for mode in AsmMode:
        phase = next((p for p in run.phases if p.mode is mode), None) if run is not None else None
        if missing or run is None:
            problem: str | None = missing or "no ASM run"
        elif phase is None:
            problem = f"no {mode.value} phase in the record"
        else:
            problem = _phase_problem(phase, run, limits)
        averages = None
        if problem is None:
            assert run is not None and phase is not None
            averages = asm_averages(judged_seconds(phase), run.ambient, limits)
        for gas, rule in _ASM_RULES[mode]:
            code = f"emission.{mode.value}.{gas}.max"
            limit = limits.get(rule, limit_set.value)
            if averages is None:
                items.append(unjudged_item(code, limit, problem or ""))
                continue
            assert phase is not None
            which = "first" if phase.fast_pass else "last"
            corrected = "DF and kH" if gas == "no" else "DF"
            note = f"10-second average ({which} 10 s), corrected for {corrected}"
            if phase.restarts:
                note += f"; phase restarted {len(phase.restarts)}x: {phase.restarts[-1]}"
            items.append(judged_item(code, limit, averages.of(gas), note))
    return tuple(items)


# ------------------------------------------------------------------ lug-down


def lug_down_items(
    run: LugDownRun | None, limits: LimitTable = DEFAULT_LIMITS, missing: str = ""
) -> tuple[VerdictItem, ...]:
    limit_set = run.limit_set if run is not None else _WITHOUT_RUN
    items: list[VerdictItem] = []
    k_limit = limits.get(Rule.LUG_DOWN_K, limit_set.value)
    for fraction in LUG_DOWN_FRACTIONS:
        code = f"emission.lug_down.k{fraction}.max"
        if missing or run is None:
            items.append(unjudged_item(code, k_limit, missing or "no lug-down run"))
            continue
        point = next((p for p in run.points if p.fraction_pct == fraction), None)
        ks = [s.k_per_m for s in point.seconds] if point is not None else []
        if point is None or not ks:
            items.append(unjudged_item(code, k_limit, f"no seconds at {fraction} % of VelMaxHP"))
        elif any(k is None or not math.isfinite(k) or k < 0 for k in ks):
            items.append(unjudged_item(code, k_limit, f"{fraction} %: a second without a valid K"))
        else:
            measured = round_half_up(_mean([k for k in ks if k is not None]), K_DECIMALS)
            note = f"mean of {len(ks)} s at {point.target_speed_kmh:g} km/h"
            items.append(judged_item(code, k_limit, measured, note))
    nox_limit = limits.get(Rule.LUG_DOWN_NOX, limit_set.value)
    code = f"emission.lug_down.nox{NOX_FRACTION}.max"
    point = next((p for p in run.points if p.fraction_pct == NOX_FRACTION), None) if run else None
    if missing or run is None:
        items.append(unjudged_item(code, nox_limit, missing or "no lug-down run"))
    elif point is None or not point.seconds:
        items.append(unjudged_item(code, nox_limit, f"no seconds at {NOX_FRACTION} % of VelMaxHP"))
    elif not all(math.isfinite(s.no_ppm) and s.no_ppm >= 0 for s in point.seconds):
        items.append(unjudged_item(code, nox_limit, "a NO value is not a finite non-negative number"))
    else:
        measured = round_half_up(_mean([s.no_ppm for s in point.seconds]), NO_DECIMALS)
        items.append(judged_item(code, nox_limit, measured, f"mean of {len(point.seconds)} s"))
    items.append(_wheel_power_item(run, limits, missing))
    return tuple(items)


def _wheel_power_item(run: LugDownRun | None, limits: LimitTable, missing: str) -> VerdictItem:
    code = "emission.lug_down.wheel_power.min"
    limit = limits.get(Rule.LUG_DOWN_MIN_POWER_RATIO)
    if missing or run is None:
        return unjudged_item(code, limit, missing or "no lug-down run")
    powers = [s.power_kw for s in run.scan]
    if not powers or not all(math.isfinite(p) and p >= 0 for p in powers):
        return unjudged_item(code, limit, "no valid power scan in the record")
    if not (math.isfinite(run.rated_power_kw) and run.rated_power_kw > 0):
        return unjudged_item(code, limit, "rated engine power unknown")
    best = max(run.scan, key=lambda s: s.power_kw)
    ratio = round_half_up(100 * best.power_kw / run.rated_power_kw, PERCENT_DECIMALS)
    note = (
        f"max wheel power {best.power_kw:g} kW at {best.speed_kmh:g} km/h ({best.rpm:g} r/min), "
        f"rated {run.rated_power_kw:g} kW"
    )
    return judged_item(code, limit, ratio, note)


__all__ = [
    "ASM_SPEED_KMH",
    "LUG_DOWN_FRACTIONS",
    "AsmAverages",
    "asm_averages",
    "asm_fast_pass",
    "asm_items",
    "asm_setpoint_kw",
    "asm_speed_window",
    "dilution_factor",
    "fast_pass_after",
    "humidity_factor",
    "humidity_g_per_kg",
    "judged_seconds",
    "lug_down_items",
    "saturation_pressure_kpa",
    "speed_excursion",
]

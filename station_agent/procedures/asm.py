"""GB 18285-2018 steady-state loaded test (ASM5025 then ASM2540), run by the host on dynamometer + analyser.

The dynamometer only holds the load it is told and shows the driver a target (spec 5); the
analyser only measures (spec 3). The test is ours (standards.md section 10), per phase:

1. RM = curb mass + ``reference_mass_addition_kg``; the absorbed power to command is RM / divisor
   (148 for ASM5025, 185 for ASM2540) less the dynamometer's parasitic loss at the phase's speed
   (the line through PARASITIC_25 and PARASITIC_40);
2. the driver's aid shows the phase's speed and "hold speed"; once the rollers are inside the
   speed window the load is commanded (setpoint, then CONSTANT_POWER) and MODE_ACTIVE awaited;
3. ``settle_s`` to settle; then one ``LoadedSecond`` a second (roller speed and power, gases, engine
   speed). After the first ten the 10-second averages are computed as the rules compute them
   (``inspection.verdicts.loaded_emission_rules``): all well inside the limits is a fast pass and
   ends the phase; otherwise the phase measures on until ``phase_s``;
4. the roller speed is watched every ``poll_s`` all the while: outside the window for longer than
   the excursion the rules allow, the phase starts again from (2), and the reason is kept in the
   record (``AsmPhase.restarts``); more than ``max_restarts`` restarts fail the test.

Whatever happens (a fault, a timeout, a cancelled visit) the absorber is released and the driver
told to release; after the test the rollers are let run down and the lift raised for driving off.
``AsmStats`` keeps each setpoint's MODE_ACTIVE latency (the control-loop benchmark's figure).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from equipment.dyn_signals import PedalPrompt
from equipment.errors import EquipmentError
from inspection import Ambient, AsmMode, AsmPhase, AsmRun, LimitSet, LoadedSecond, Vehicle
from inspection.verdicts.limits import ASM_AVERAGE_S, DEFAULT_LIMITS, LimitTable, Rule
from inspection.verdicts.loaded_emission_rules import (
    ASM_SPEED_KMH,
    asm_setpoint_kw,
    asm_speed_window,
    fast_pass_after,
)
from station_agent.clock import Clock
from station_agent.lane_config import AsmTimings
from station_agent.procedures import ProcedureError
from station_agent.procedures.two_speed_idle import prepare_analyser

if TYPE_CHECKING:
    from equipment.dyn_driver import ChassisDynamometer, DynReading
    from equipment.ega_driver import GasAnalyser

PROCEDURE = "ASM"
STOPPED_KMH = 1.0

Display = Callable[[str], None]


@dataclass
class AsmStats:
    """What the control loop did: seconds from each setpoint to MODE_ACTIVE, restarts per phase, and
    the speed window's violations while settling and measuring (times the rollers left it, and the
    procedure seconds they spent outside, as the host's polls saw them)."""

    mode_latencies_s: list[float] = field(default_factory=list)
    restarts: dict[AsmMode, int] = field(default_factory=dict)
    excursions: int = 0
    outside_s: float = 0.0


class _PhaseRestart(ProcedureError):
    """Internal: the speed left its window too long; caught by ``_phase``, which starts it again."""

    def __init__(self, reason: str) -> None:
        super().__init__(PROCEDURE, reason)


@dataclass
class _SpeedWatch:
    """Time outside the window, from readings taken at least every ``poll_s``."""

    low: float
    high: float
    allowed_s: float
    stats: AsmStats
    left_at: float | None = None
    seen_at: float | None = None

    def see(self, reading: DynReading, now: float, t_s: float) -> None:
        previous, self.seen_at = self.seen_at, now
        if self.low <= reading.speed_kmh <= self.high:
            self.left_at = None
            return
        if previous is not None and self.left_at is not None:
            self.stats.outside_s += now - previous
        if self.left_at is None:
            self.left_at = now
            self.stats.excursions += 1
        if now - self.left_at > self.allowed_s:
            raise _PhaseRestart(
                f"roller speed {reading.speed_kmh:.1f} km/h outside {self.low:g}-{self.high:g} km/h for "
                f"more than {self.allowed_s:g} s (phase t = {t_s:.1f} s)"
            )


async def run_asm(
    dynamometer: ChassisDynamometer,
    analyser: GasAnalyser,
    vehicle: Vehicle,
    *,
    limit_set: LimitSet,
    timings: AsmTimings,
    clock: Clock,
    display: Display = lambda _: None,
    limits: LimitTable = DEFAULT_LIMITS,
    stats: AsmStats | None = None,
) -> AsmRun:
    t = timings
    stats = stats if stats is not None else AsmStats()
    display("insert the probe; analyser preparing")
    await prepare_analyser(analyser, clock, t.warm_up_wait_s, t.zero_wait_s, PROCEDURE)
    info = await dynamometer.read_info()
    reference_mass = round(vehicle.curb_mass_kg + t.reference_mass_addition_kg)
    ambient = Ambient(t.ambient_temperature_c, t.ambient_relative_humidity_pct, t.ambient_pressure_kpa)
    await dynamometer.lift_down()
    phases: list[AsmPhase] = []
    try:
        for mode, divisor in ((AsmMode.ASM5025, t.load_divisor_5025), (AsmMode.ASM2540, t.load_divisor_2540)):
            parasitic = info.parasitic_kw(ASM_SPEED_KMH[mode])
            setpoint = round(asm_setpoint_kw(mode, reference_mass, parasitic, divisor), 2)
            phases.append(
                await _phase(
                    dynamometer,
                    analyser,
                    mode,
                    setpoint,
                    parasitic,
                    ambient,
                    limit_set=limit_set,
                    timings=t,
                    clock=clock,
                    display=display,
                    limits=limits,
                    stats=stats,
                )
            )
    finally:
        await let_go(dynamometer, display)
    await drive_off(dynamometer, clock, t.reach_wait_s)
    display("ASM done: remove the probe, drive off")
    return AsmRun(
        limit_set=limit_set, reference_mass_kg=reference_mass, ambient=ambient, phases=tuple(phases)
    )


async def let_go(dynamometer: ChassisDynamometer, display: Display) -> None:
    """Release the absorber and tell the driver to stop; best effort (the bench may be what failed)."""
    display("release the pedal")
    with contextlib.suppress(EquipmentError):
        await dynamometer.release()
    with contextlib.suppress(EquipmentError):
        await dynamometer.show_aid(0.0, PedalPrompt.RELEASE)


async def drive_off(dynamometer: ChassisDynamometer, clock: Clock, wait_s: float) -> None:
    deadline = clock.monotonic() + wait_s
    while (await dynamometer.check("run down")).speed_kmh > STOPPED_KMH:
        if clock.monotonic() >= deadline:
            raise ProcedureError(PROCEDURE, f"rollers still turning {wait_s:g} s after the test")
        await clock.sleep(0.5)
    await dynamometer.show_aid(0.0, PedalPrompt.NONE)
    await dynamometer.lift_up()


async def _phase(
    dynamometer: ChassisDynamometer,
    analyser: GasAnalyser,
    mode: AsmMode,
    setpoint: float,
    parasitic: float,
    ambient: Ambient,
    *,
    limit_set: LimitSet,
    timings: AsmTimings,
    clock: Clock,
    display: Display,
    limits: LimitTable,
    stats: AsmStats,
) -> AsmPhase:
    t = timings
    nominal = ASM_SPEED_KMH[mode]
    low, high = asm_speed_window(mode, limits)
    allowed = limits.get(Rule.ASM_SPEED_EXCURSION).value
    restarts: list[str] = []
    while True:
        display(f"{mode.value}: hold {nominal:g} km/h")
        await dynamometer.show_aid(nominal, PedalPrompt.HOLD_SPEED)
        await _reach(dynamometer, clock, low, high, t, mode)
        stats.mode_latencies_s.append(await dynamometer.hold_power(setpoint))
        try:
            seconds, fast = await _measure(
                dynamometer, analyser, mode, ambient, _SpeedWatch(low, high, allowed, stats),
                limit_set=limit_set, timings=t, clock=clock, limits=limits,
            )  # fmt: skip
        except _PhaseRestart as restart:
            restarts.append(restart.reason)
            stats.restarts[mode] = len(restarts)
            display(f"{mode.value}: {restart.reason}: the phase starts again")
            if len(restarts) > t.max_restarts:
                raise ProcedureError(
                    PROCEDURE, f"{mode.value} restarted {len(restarts)} times; last: {restart.reason}"
                ) from None
            continue
        return AsmPhase(mode, setpoint, round(parasitic, 2), fast, seconds, tuple(restarts))


async def _reach(
    dynamometer: ChassisDynamometer, clock: Clock, low: float, high: float, timings: AsmTimings, mode: AsmMode
) -> None:
    wait_s = timings.reach_wait_s
    deadline = clock.monotonic() + wait_s
    while True:
        reading = await dynamometer.check(mode.value)
        if low <= reading.speed_kmh <= high:
            return
        if clock.monotonic() >= deadline:
            raise ProcedureError(
                PROCEDURE,
                f"{mode.value}: roller speed {reading.speed_kmh:g} km/h not in {low:g}-{high:g} km/h "
                f"after {wait_s:g} s",
            )
        await clock.sleep(timings.poll_s)


async def _measure(
    dynamometer: ChassisDynamometer,
    analyser: GasAnalyser,
    mode: AsmMode,
    ambient: Ambient,
    watch: _SpeedWatch,
    *,
    limit_set: LimitSet,
    timings: AsmTimings,
    clock: Clock,
    limits: LimitTable,
) -> tuple[tuple[LoadedSecond, ...], bool]:
    """Settle, then one second after another until a fast pass or ``phase_s``; ``_PhaseRestart`` on an excursion."""
    t = timings
    start = clock.monotonic()

    async def watch_until(deadline: float) -> DynReading:
        while True:
            reading = await dynamometer.check(mode.value)
            now = clock.monotonic()
            watch.see(reading, now, now - start)
            if now >= deadline:
                return reading
            await clock.sleep_until(min(deadline, now + t.poll_s))

    await watch_until(start + t.settle_s)
    seconds: list[LoadedSecond] = []
    count = int(t.phase_s - t.settle_s)
    for k in range(1, count + 1):
        reading = await watch_until(start + t.settle_s + k)
        gas = await analyser.read()
        seconds.append(
            LoadedSecond(
                t_s=round(clock.monotonic() - start - t.settle_s, 3),
                speed_kmh=reading.speed_kmh,
                power_kw=reading.power_kw,
                rpm=gas.rpm,
                hc_ppm=gas.hc_ppm,
                co_pct=gas.co_pct,
                co2_pct=gas.co2_pct,
                o2_pct=gas.o2_pct,
                no_ppm=gas.no_ppm,
                low_flow=gas.low_flow,
                dilution=gas.dilution,
            )
        )
        if k == ASM_AVERAGE_S and fast_pass_after(mode, seconds, ambient, limit_set, limits):
            return tuple(seconds), True
    return tuple(seconds), False


__all__ = ["AsmStats", "run_asm"]

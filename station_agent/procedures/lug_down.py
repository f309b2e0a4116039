"""GB 3847-2018 lug-down (加载减速), run by the host on dynamometer, opacity meter and gas analyser.

As for ASM, the benches only hold, show and measure; the test is ours (standards.md section 10):

1. full throttle: the driver's aid asks for it, and the rollers run free until the speed stops
   rising (the top speed in the test gear);
2. power scan: CONSTANT_SPEED from the top speed downwards in ``scan_step_kmh`` steps, each held
   ``scan_step_s``; the wheel power (roller power) at each step is one ``LoadedSecond`` of the scan.
   The scan ends once the power has fallen well below its maximum again, or at
   ``scan_floor_fraction`` of the top speed. VelMaxHP is the roller speed of the highest power;
3. holds at 100, 90 and 80 % of VelMaxHP: CONSTANT_SPEED, ``hold_settle_s`` to settle, then
   ``hold_measure_s`` seconds each with smoke K (opacity meter READ) and NO (gas analyser);
4. release, the driver lifts off, the rollers run down, the lift goes up.

The rules judge K at each hold, NOx at 80 %, and the highest wheel power against the vehicle's rated
power (``inspection.verdicts.loaded_emission_rules``), so the rated power must be known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from equipment.dyn_signals import PedalPrompt
from inspection import LimitSet, LoadedSecond, LugDownPoint, LugDownRun, Vehicle
from inspection.verdicts.loaded_emission_rules import LUG_DOWN_FRACTIONS
from station_agent.clock import Clock
from station_agent.lane_config import LugDownTimings
from station_agent.procedures import ProcedureError
from station_agent.procedures.asm import drive_off, let_go
from station_agent.procedures.two_speed_idle import prepare_analyser

if TYPE_CHECKING:
    from equipment.dyn_driver import ChassisDynamometer
    from equipment.ega_driver import GasAnalyser
    from equipment.opm_driver import OpacityMeter

PROCEDURE = "lug-down"
# The scan has passed the maximum once the power is this far below it (ours).
PAST_MAXIMUM = 0.85
RISING_KMH_PER_S = 0.3  # below this the rollers have stopped accelerating

Display = Callable[[str], None]


async def run_lug_down(
    dynamometer: ChassisDynamometer,
    meter: OpacityMeter,
    analyser: GasAnalyser,
    vehicle: Vehicle,
    *,
    limit_set: LimitSet,
    timings: LugDownTimings,
    clock: Clock,
    display: Display = lambda _: None,
) -> LugDownRun:
    t = timings
    if not vehicle.rated_power_kw:
        raise ProcedureError(
            PROCEDURE, "the vehicle's rated engine power is unknown: the result cannot be judged"
        )
    display("insert the probes; opacity meter and analyser preparing")
    await prepare_analyser(meter, clock, t.warm_up_wait_s, t.zero_wait_s, PROCEDURE)
    await prepare_analyser(analyser, clock, t.warm_up_wait_s, t.zero_wait_s, PROCEDURE)
    await dynamometer.lift_down()
    try:
        display("full throttle, and hold it")
        await dynamometer.show_aid(0.0, PedalPrompt.FULL_THROTTLE)
        top = await _top_speed(dynamometer, clock, t.top_speed_wait_s)
        scan_start = clock.monotonic()

        async def second(target: float) -> LoadedSecond:
            reading = await dynamometer.check("lug-down")
            smoke = await meter.read()
            gas = await analyser.read()
            return LoadedSecond(
                t_s=round(clock.monotonic() - scan_start, 3), speed_kmh=reading.speed_kmh,
                power_kw=reading.power_kw, rpm=smoke.rpm, hc_ppm=gas.hc_ppm, co_pct=gas.co_pct,
                co2_pct=gas.co2_pct, o2_pct=gas.o2_pct, no_ppm=gas.no_ppm, k_per_m=smoke.k_per_m,
                low_flow=gas.low_flow, dilution=gas.dilution,
            )  # fmt: skip

        scan: list[LoadedSecond] = []
        target = top
        await dynamometer.hold_speed(target)
        while target >= top * t.scan_floor_fraction:
            await dynamometer.start_speed(target)
            await clock.sleep(t.scan_step_s)
            scan.append(await second(target))
            best = max(s.power_kw for s in scan)
            if scan[-1].power_kw < PAST_MAXIMUM * best:
                break
            target -= t.scan_step_kmh
        best_second = max(scan, key=lambda s: s.power_kw)
        vel_max_hp = round(best_second.speed_kmh, 1)
        display(f"VelMaxHP {vel_max_hp:g} km/h, {best_second.power_kw:g} kW at the wheels")
        points = []
        for fraction in LUG_DOWN_FRACTIONS:
            hold = round(vel_max_hp * fraction / 100, 1)
            await dynamometer.hold_speed(hold)
            await clock.sleep(t.hold_settle_s)
            held = []
            for _ in range(t.hold_measure_s):
                await clock.sleep(1.0)
                held.append(await second(hold))
            points.append(LugDownPoint(fraction, hold, tuple(held)))
    finally:
        await let_go(dynamometer, display)
    await drive_off(dynamometer, clock, t.top_speed_wait_s)
    display("lug-down done: remove the probes, drive off")
    return LugDownRun(
        limit_set=limit_set,
        rated_power_kw=float(vehicle.rated_power_kw),
        scan=tuple(scan),
        vel_max_hp_kmh=vel_max_hp,
        max_wheel_power_kw=best_second.power_kw,
        rpm_at_max_power=best_second.rpm,
        points=tuple(points),
    )


async def _top_speed(dynamometer: ChassisDynamometer, clock: Clock, wait_s: float) -> float:
    """Roller speed once it has stopped rising under full throttle."""
    deadline = clock.monotonic() + wait_s
    previous = (await dynamometer.check("lug-down")).speed_kmh
    while True:
        await clock.sleep(1.0)
        speed = (await dynamometer.check("lug-down")).speed_kmh
        if speed > 5.0 and speed - previous < RISING_KMH_PER_S:
            return round(speed, 1)
        if clock.monotonic() >= deadline:
            raise ProcedureError(
                PROCEDURE, f"speed still rising ({speed:g} km/h) after {wait_s:g} s of full throttle"
            )
        previous = speed


__all__ = ["run_lug_down"]

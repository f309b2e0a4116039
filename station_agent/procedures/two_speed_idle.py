"""GB 18285-2018 two-speed idle, run by the host from the gas analyser's instantaneous readings.

The analyser only measures (spec section 3); the procedure is ours (standards.md section 4):

1. analyser ready: warmed up (wait), zeroed (zero it if not);
2. engine at normal temperature: oil at least ``min_oil_temp_c``;
3. precondition: 70 % of the rated engine speed, held ``precondition_s``;
4. high idle: wait for 2500 ± 200 rpm, stabilise ``stabilise_s``, then ``readings`` readings one
   second apart;
5. low idle: wait for normal idle, stabilise ``stabilise_s``, then ``readings`` readings.

Every kept reading is one ``GasReading`` with ``t_s`` since the start of its measuring phase. A
reading flagged low flow or dilution is kept as measured: judging the run is the rules' business
(``inspection.verdicts``), and the record must show what the analyser said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inspection import GasReading, LimitSet, TwoSpeedIdleRun, Vehicle
from station_agent.clock import Clock
from station_agent.lane_config import TwoSpeedIdleTimings
from station_agent.procedures import ProcedureError

if TYPE_CHECKING:
    from equipment.ega_driver import BinaryBench, GasAnalyser

PROCEDURE = "two-speed idle"
# How often the host looks at the engine speed while waiting for a band (procedure seconds).
POLL_S = 0.5


Display = Callable[[str], None]


async def prepare_analyser(
    analyser: BinaryBench, clock: Clock, warm_up_wait_s: float, zero_wait_s: float, procedure: str
) -> None:
    """Wait for warm-up, then zero unless the analyser says it is zeroed (shared with the opacity meter)."""
    deadline = clock.monotonic() + warm_up_wait_s
    status = await analyser.status()
    while not status.warmed_up:
        if clock.monotonic() >= deadline:
            raise ProcedureError(procedure, f"analyser not warmed up after {warm_up_wait_s:g} s")
        await clock.sleep(POLL_S)
        status = await analyser.status()
    if status.zeroed:
        return
    await analyser.zero()
    deadline = clock.monotonic() + zero_wait_s
    while not (await analyser.status()).zeroed:
        if clock.monotonic() >= deadline:
            raise ProcedureError(procedure, f"analyser not zeroed {zero_wait_s:g} s after ZERO")
        await clock.sleep(POLL_S)


async def _wait_for_speed(
    analyser: GasAnalyser, clock: Clock, low: float, high: float, wait_s: float, phase: str
) -> None:
    deadline = clock.monotonic() + wait_s
    while True:
        sample = await analyser.read()
        if low <= sample.rpm <= high:
            return
        if clock.monotonic() >= deadline:
            raise ProcedureError(
                PROCEDURE,
                f"{phase}: engine speed {sample.rpm:g} rpm not in {low:g}-{high:g} rpm after {wait_s:g} s",
            )
        await clock.sleep(POLL_S)


async def _measure(analyser: GasAnalyser, clock: Clock, count: int) -> tuple[GasReading, ...]:
    """``count`` readings, the k-th at k seconds after the phase starts (late ones keep their real t)."""
    start = clock.monotonic()
    readings = []
    for k in range(1, count + 1):
        await clock.sleep_until(start + k)
        sample = await analyser.read()
        readings.append(
            GasReading(
                t_s=round(clock.monotonic() - start, 3),
                hc_ppm=sample.hc_ppm,
                co_pct=sample.co_pct,
                co2_pct=sample.co2_pct,
                o2_pct=sample.o2_pct,
                no_ppm=sample.no_ppm,
                lambda_=sample.lambda_,
                rpm=sample.rpm,
                oil_temp_c=sample.oil_temp_c,
                low_flow=sample.low_flow,
                dilution=sample.dilution,
            )
        )
    return tuple(readings)


async def run_two_speed_idle(
    analyser: GasAnalyser,
    vehicle: Vehicle,
    *,
    limit_set: LimitSet,
    timings: TwoSpeedIdleTimings,
    clock: Clock,
    display: Display = lambda _: None,
) -> TwoSpeedIdleRun:
    t = timings
    display("insert the probe; analyser preparing")
    await prepare_analyser(analyser, clock, t.warm_up_wait_s, t.zero_wait_s, PROCEDURE)

    oil = (await analyser.read()).oil_temp_c
    if oil < t.min_oil_temp_c:
        raise ProcedureError(
            PROCEDURE, f"oil temperature {oil:g} °C below {t.min_oil_temp_c:g} °C: warm the engine"
        )

    rated = float(vehicle.rated_engine_speed_rpm or t.default_rated_rpm)
    target = rated * t.precondition_fraction
    display(f"raise engine speed to {target:.0f} rpm")
    await _wait_for_speed(
        analyser,
        clock,
        target - t.precondition_tolerance_rpm,
        target + t.precondition_tolerance_rpm,
        t.rpm_wait_s,
        "precondition",
    )
    await clock.sleep(t.precondition_s)

    display(f"hold {t.high_idle_rpm:.0f} rpm")
    await _wait_for_speed(
        analyser,
        clock,
        t.high_idle_rpm - t.high_idle_tolerance_rpm,
        t.high_idle_rpm + t.high_idle_tolerance_rpm,
        t.rpm_wait_s,
        "high idle",
    )
    await clock.sleep(t.stabilise_s)
    high_idle = await _measure(analyser, clock, t.readings)

    display("release the pedal: idle")
    await _wait_for_speed(analyser, clock, 1.0, t.low_idle_max_rpm, t.rpm_wait_s, "low idle")
    await clock.sleep(t.stabilise_s)
    low_idle = await _measure(analyser, clock, t.readings)
    display("two-speed idle done: remove the probe")
    return TwoSpeedIdleRun(limit_set=limit_set, high_idle=high_idle, low_idle=low_idle)

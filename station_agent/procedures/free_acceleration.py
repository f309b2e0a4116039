"""GB 3847-2018 free acceleration, run by the host on the opacity meter (spec section 4).

Three purging accelerations blow out deposits; then three measured ones. Every acceleration,
purges included, starts with PEAK_RESET (the meter's cue that the pedal goes down next, and the
operator sees each purge's smoke on the meter); each measured one ends with PEAK after the engine
is back at idle, so each K is the peak of exactly that acceleration (standards.md section 5). The
mean of the three is the rules' business; the record keeps the three peaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from inspection import FreeAccelerationRun, Vehicle
from station_agent.clock import Clock
from station_agent.lane_config import FreeAccelerationTimings
from station_agent.procedures.two_speed_idle import GasStatusLike, prepare_analyser

PROCEDURE = "free acceleration"


class OpacityMeter(Protocol):
    """``equipment.opm_driver.OpacityMeter``, opened."""

    async def status(self) -> GasStatusLike: ...
    async def zero(self) -> None: ...
    async def peak(self) -> float: ...
    async def peak_reset(self) -> None: ...


Display = Callable[[str], None]


async def _accelerate(clock: Clock, timings: FreeAccelerationTimings, display: Display, label: str) -> None:
    display(f"{label}: pedal fully down within 1 s, hold to governed speed, release")
    await clock.sleep(timings.acceleration_s)
    display(f"{label}: idle")
    await clock.sleep(timings.idle_s)


async def run_free_acceleration(
    meter: OpacityMeter,
    vehicle: Vehicle,
    *,
    limit_set: str,
    timings: FreeAccelerationTimings,
    clock: Clock,
    display: Display = lambda _: None,
) -> FreeAccelerationRun:
    t = timings
    display("insert the probe; opacity meter preparing")
    await prepare_analyser(meter, clock, t.warm_up_wait_s, t.zero_wait_s, PROCEDURE)
    for n in range(1, t.purge_count + 1):
        await meter.peak_reset()
        await _accelerate(clock, t, display, f"purge {n}/{t.purge_count}")
    peaks = []
    for n in range(1, t.measured_count + 1):
        await meter.peak_reset()
        await _accelerate(clock, t, display, f"measured acceleration {n}/{t.measured_count}")
        peaks.append(await meter.peak())
    display("free acceleration done: remove the probe")
    return FreeAccelerationRun(limit_set=limit_set, k_per_m=tuple(peaks))

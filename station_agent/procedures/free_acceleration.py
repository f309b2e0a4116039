"""GB 3847-2018 free acceleration, run by the host on the opacity meter (spec section 4).

Three purging accelerations blow out deposits; then three measured ones. Every acceleration,
purges included, starts with PEAK_RESET (the meter's cue that the pedal goes down next, and the
operator sees each purge's smoke on the meter); each measured one ends with PEAK after the engine
is back at idle, so each K is the peak of exactly that acceleration (standards.md section 5). The
mean of the three is the rules' business; the record keeps the three peaks.

A PEAK_RESET whose reply came back corrupt is never re-sent (``equipment.ega_driver``: a second
reset would cut the acceleration in two and shift every K by one). The acceleration it cued is
still driven and waited out - the operator may well be pressing the pedal - but it is not counted:
for a purge that changes nothing, for a measured acceleration one more is made after it, with a
reset that did answer, so every K kept is the peak of exactly one acceleration. At most
``MAX_UNCOUNTED`` measured accelerations are dropped so; then the test fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from equipment.errors import UnconfirmedCommand
from inspection import FreeAccelerationRun, LimitSet, Vehicle
from station_agent.clock import Clock
from station_agent.lane_config import FreeAccelerationTimings
from station_agent.procedures import ProcedureError
from station_agent.procedures.two_speed_idle import prepare_analyser

if TYPE_CHECKING:
    from equipment.opm_driver import OpacityMeter

PROCEDURE = "free acceleration"
MAX_UNCOUNTED = 3


Display = Callable[[str], None]


async def _accelerate(clock: Clock, timings: FreeAccelerationTimings, display: Display, label: str) -> None:
    display(f"{label}: pedal fully down within 1 s, hold to governed speed, release")
    await clock.sleep(timings.acceleration_s)
    display(f"{label}: idle")
    await clock.sleep(timings.idle_s)


async def _reset(meter: OpacityMeter, display: Display) -> bool:
    """PEAK_RESET; False if its reply was corrupt (it may or may not have acted: not re-sent)."""
    try:
        await meter.peak_reset()
    except UnconfirmedCommand as error:
        display(f"opacity meter did not confirm its reset ({error.cause}); this acceleration is not counted")
        return False
    return True


async def run_free_acceleration(
    meter: OpacityMeter,
    vehicle: Vehicle,
    *,
    limit_set: LimitSet,
    timings: FreeAccelerationTimings,
    clock: Clock,
    display: Display = lambda _: None,
) -> FreeAccelerationRun:
    t = timings
    display("insert the probe; opacity meter preparing")
    await prepare_analyser(meter, clock, t.warm_up_wait_s, t.zero_wait_s, PROCEDURE)
    for n in range(1, t.purge_count + 1):
        await _reset(meter, display)  # a purge blows deposits out whether or not the meter reset
        await _accelerate(clock, t, display, f"purge {n}/{t.purge_count}")
    peaks: list[float] = []
    uncounted = 0
    while len(peaks) < t.measured_count:
        confirmed = await _reset(meter, display)
        await _accelerate(clock, t, display, f"measured acceleration {len(peaks) + 1}/{t.measured_count}")
        if confirmed:
            peaks.append(await meter.peak())
            continue
        uncounted += 1
        if uncounted > MAX_UNCOUNTED:
            raise ProcedureError(
                PROCEDURE, f"the opacity meter did not confirm PEAK_RESET {uncounted} times; K cannot be kept"
            )
    display("free acceleration done: remove the probe")
    return FreeAccelerationRun(limit_set=limit_set, k_per_m=tuple(peaks))

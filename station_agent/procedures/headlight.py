"""Headlamp test: left and right lamp, high and low beam, on the headlight tester (spec section 2)."""

from __future__ import annotations

from inspection import Beam, LampMeasurement, Side, Vehicle
from station_agent.bench_drivers import HeadlightTester

# The order an operator works in: the left lamp's beams, then the right lamp's.
MEASUREMENTS = (
    (Side.LEFT, Beam.HIGH),
    (Side.LEFT, Beam.LOW),
    (Side.RIGHT, Beam.HIGH),
    (Side.RIGHT, Beam.LOW),
)


async def run_headlight_test(tester: HeadlightTester, vehicle: Vehicle) -> tuple[LampMeasurement, ...]:
    lamps = []
    for side, beam in MEASUREMENTS:
        reading = await tester.measure(_WIRE_SIDE[side], _WIRE_BEAM[beam])
        lamps.append(
            LampMeasurement(
                side=side,
                beam=beam,
                intensity_cd=int(reading.intensity_cd),
                vertical_mm=int(reading.vertical_mm),
                horizontal_mm=int(reading.horizontal_mm),
                lamp_height_mm=int(reading.lamp_height_mm),
            )
        )
    return tuple(lamps)


_WIRE_SIDE = {Side.LEFT: "L", Side.RIGHT: "R"}
_WIRE_BEAM = {Beam.HIGH: "H", Beam.LOW: "L"}

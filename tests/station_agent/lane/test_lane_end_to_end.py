"""A whole lane on simulated benches: petrol and diesel cars, both brake profiles, both Modbus transports.

What the benches were told (the scenarios) must be what the record says, through every layer:
registers and frames, codecs, drivers, procedures, the lane.
"""

from __future__ import annotations

import pytest

from inspection import Beam, FreeAccelerationRun, Fuel, Side, TwoSpeedIdleRun
from inspection.verdict import Outcome
from station_agent.lane import LaneState
from tests.station_agent.lane.lane_rig import RunningLane

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fuel", [Fuel.PETROL, Fuel.DIESEL])
async def test_a_vehicle_goes_through_all_four_benches(any_lane: RunningLane, fuel: Fuel) -> None:
    record_id = await any_lane.check_in(fuel)
    view = await any_lane.lane.wait_for(record_id, LaneState.VISUAL)
    assert view.state is LaneState.VISUAL, view.error
    record = await any_lane.lane.complete(record_id)
    vehicle, scenario = record.vehicle, any_lane.benches.brake_scenario
    assert scenario is not None

    # Brakes: every axle, the parking brake exactly on the axles that have it, values as set up.
    assert [a.axle for a in record.axles] == list(range(1, vehicle.axle_count + 1))
    for axle, expected in zip(record.axles, scenario.axles, strict=True):
        assert axle.left_load_kg == pytest.approx(expected.left_load_kg, abs=1)
        assert axle.right_load_kg == pytest.approx(expected.right_load_kg, abs=1)
        assert axle.service.left_max_n == pytest.approx(expected.service.left_max_dan * 10, abs=10)
        assert axle.service.right_max_n == pytest.approx(expected.service.right_max_dan * 10, abs=10)
        assert axle.service.curve is not None
        assert len(axle.service.curve.left_n) == expected.service.sample_count
        assert (axle.parking is not None) == (axle.axle in vehicle.parking_brake_axles)
        if axle.parking is not None:
            assert expected.parking is not None
            total = axle.parking.left_max_n + axle.parking.right_max_n  # type: ignore[operator]
            assert total == pytest.approx(
                (expected.parking.left_max_dan + expected.parking.right_max_dan) * 10, abs=20
            )

    # Headlamps: both sides, both beams, as the headlight tester's scenario says.
    lamps = {(lamp.side, lamp.beam): lamp for lamp in record.lamps}
    assert set(lamps) == {(side, beam) for side in Side for beam in Beam}
    # The simulator keys its lamps by the wire protocol's letters (L/R, H/L).
    scenario_lamps = {(str(s), str(b)): lamp for (s, b), lamp in any_lane.benches.hlt.scenario.lamps.items()}
    for (side, beam), lamp in lamps.items():
        expected_lamp = scenario_lamps[(side.value[0].upper(), beam.value[0].upper())]
        assert lamp.vertical_mm == expected_lamp.vertical_mm
        assert lamp.lamp_height_mm == expected_lamp.lamp_height_mm

    # Emission: the host-run procedure of the vehicle's fuel.
    assert record.emission is not None
    if fuel is Fuel.PETROL:
        run = record.emission
        assert isinstance(run, TwoSpeedIdleRun)
        assert run.high_idle and run.low_idle
    else:
        run = record.emission
        assert isinstance(run, FreeAccelerationRun)
        assert len(run.k_per_m) == 3

    # The station's verdict was made by the rules and is in the record.
    assert record.station_verdict is not None
    assert record.station_verdict.overall in set(Outcome)
    assert any_lane.completed == [record]

"""A bench reading outside its physical range aborts the visit naming bench, quantity and value: the
record is never built, judged or signed (the hub would refuse it for ever)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from inspection import Fuel
from simulators.ega_sim import CLEAN_LOW_IDLE, EgaScenario
from station_agent.lane import IllegalTransition, LaneState
from tests.station_agent.lane.lane_rig import RunningLane, start_lane, vehicle_with


async def test_a_gas_analyser_reading_40_percent_co_aborts_the_visit(running_lane: RunningLane) -> None:
    vehicle = vehicle_with(Fuel.PETROL, 0)
    running_lane.benches.next_vehicle(vehicle, seed=0)
    broken = dataclasses.replace(CLEAN_LOW_IDLE, co_pct=40.0)
    running_lane.benches.ega.next_vehicle(
        EgaScenario.two_speed_idle(
            rated_rpm=vehicle.rated_engine_speed_rpm or 5500,
            low_idle=broken,
            warm_up_s=30.0,
            zero_s=10.0,
            gas_noise=0,
        )
    )
    record_id = await running_lane.lane.check_in(vehicle)
    view = await running_lane.lane.wait_for(record_id, LaneState.VISUAL)
    assert view.state is LaneState.ABORTED
    assert view.error is not None
    assert "ega" in view.error and "CO" in view.error and "40" in view.error and "co_pct" in view.error
    with pytest.raises(IllegalTransition):
        await running_lane.lane.complete(record_id)
    assert running_lane.completed == []


async def test_a_negative_wheel_load_aborts_the_visit(tmp_path: Path) -> None:
    # The RBT-F profile sends loads as float32, so the bench can put a negative load on the wire.
    async for rig in start_lane(tmp_path, profile="rbt-f"):
        vehicle = vehicle_with(Fuel.PETROL, 0)
        rig.benches.next_vehicle(vehicle, seed=0)
        scenario = rig.benches.brake_scenario
        assert scenario is not None
        broken = dataclasses.replace(
            scenario, axles=(dataclasses.replace(scenario.axles[0], left_load_kg=-120.0), *scenario.axles[1:])
        )
        rig.benches.rbt.bench.queue([], rig.benches.rbt.now())
        rig.benches.rbt.load_vehicle(broken)
        record_id = await rig.lane.check_in(vehicle)
        view = await rig.lane.wait_for(record_id, LaneState.HEADLIGHT)
        assert view.state is LaneState.ABORTED
        assert view.error is not None
        assert "rbt" in view.error and "axle 1 left wheel load" in view.error and "-120" in view.error
        assert rig.completed == []

"""``tongjian sim ega`` serves vehicle after vehicle: the engine script starts again for each
vehicle's test, without anyone telling the simulator a new car drove up (the second vehicle used to
abort: its engine was still idling at the end of the first car's script)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from inspection import Fuel, TwoSpeedIdleRun
from simulators.brake_scenario import scenario_for_vehicle
from station_agent.lane import LaneState
from tests.station_agent.lane.bench_rig import supervised_lane
from tests.station_agent.lane.lane_rig import vehicle_with
from tongjian.cli import build_parser
from tongjian.commands.sim_serial import build_simulator
from tongjian.demo import TIME_SCALE


async def test_two_petrol_vehicles_in_a_row_through_a_lane_with_the_cli_simulator(tmp_path: Path) -> None:
    args = build_parser().parse_args(["sim", "ega", "--rated-rpm", "6200", "--time-scale", str(TIME_SCALE)])
    analyser = build_simulator(args)
    async with supervised_lane(tmp_path) as rig:
        # The lane's analyser is the one `tongjian sim ega` runs, behind the same port path.
        link = rig.benches.ega.link_path
        assert link is not None
        rig.benches.ega.stop()
        analyser.start(link_path=link)
        rig.benches.ega = analyser  # type: ignore[assignment]
        try:
            for index in range(2):
                vehicle = dataclasses.replace(vehicle_with(Fuel.PETROL, index), rated_engine_speed_rpm=6200)
                # Only the brake tester is told about the car (its axles roll on); the analyser is not.
                rig.benches.rbt.load_vehicle(scenario_for_vehicle(vehicle, index))
                record_id = await rig.lane.check_in(vehicle)
                view = await rig.lane.wait_for(record_id, LaneState.VISUAL)
                assert view.state is LaneState.VISUAL, f"vehicle {index + 1}: {view.error}"
                record = await rig.lane.complete(record_id)
                assert isinstance(record.emission, TwoSpeedIdleRun)
                assert all(abs(r.rpm - 2500) <= 200 for r in record.emission.high_idle)
        finally:
            analyser.stop()

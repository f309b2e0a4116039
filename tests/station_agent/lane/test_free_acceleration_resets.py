"""One PEAK_RESET per acceleration (spec 4), also when the meter's ACK comes back corrupt: the reset
is not re-sent (a second one shifted every K value by one acceleration), and the acceleration it
cued is not counted."""

from __future__ import annotations

from equipment.opm_driver import OpacityMeter
from equipment.serial_link import SerialConfig, SerialLink
from inspection import FreeAccelerationRun, Fuel
from simulators.opm_sim import OpacityMeterSimulator, OpmScenario
from simulators.serial_device import parse_fault
from station_agent.clock import ScaledClock
from station_agent.lane import LaneState
from station_agent.lane_config import FreeAccelerationTimings
from station_agent.procedures.free_acceleration import run_free_acceleration
from tests.station_agent.lane.lane_rig import RunningLane, vehicle_with

SCALE = 0.01


async def test_a_corrupt_ack_to_a_purge_reset_leaves_every_k_value_in_place(
    running_lane: RunningLane,
) -> None:
    vehicle = vehicle_with(Fuel.DIESEL, 0)
    running_lane.benches.next_vehicle(vehicle, seed=0)
    meter = running_lane.benches.opm
    meter.faults = [parse_fault("bad-checksum@peak_reset/1")]
    record_id = await running_lane.lane.check_in(vehicle)
    view = await running_lane.lane.wait_for(record_id, LaneState.VISUAL)
    assert view.state is LaneState.VISUAL, view.error
    record = await running_lane.lane.complete(record_id)
    assert isinstance(record.emission, FreeAccelerationRun)
    # Three purges, three measured accelerations: six resets, and the measured Ks are the 4th-6th peaks.
    assert meter.received.count("peak_reset") == 6
    assert record.emission.k_per_m == OpmScenario().peaks[3:6]


async def test_a_measured_acceleration_whose_reset_is_unconfirmed_is_made_again() -> None:
    scenario = OpmScenario(peaks=(0.9, 0.8, 0.75, 0.62), warm_up_s=0, zero_s=0)
    simulator = OpacityMeterSimulator(
        scenario, time_scale=SCALE, faults=[parse_fault("bad-checksum@peak_reset/1")]
    )
    link = SerialLink(SerialConfig(port=simulator.start(), response_timeout_s=2.0, idle_gap_s=0.02))
    shown: list[str] = []
    try:
        run = await run_free_acceleration(
            OpacityMeter(link, zero_timeout_s=1, zero_poll_s=0.01),
            vehicle_with(Fuel.DIESEL, 0),
            limit_set="b",
            timings=FreeAccelerationTimings(purge_count=0, measured_count=3),
            clock=ScaledClock(SCALE),
            display=shown.append,
        )
    finally:
        link.close()
        simulator.stop()
    assert simulator.received.count("peak_reset") == 4
    assert run.k_per_m == (0.8, 0.75, 0.62)
    assert any("not counted" in line for line in shown)

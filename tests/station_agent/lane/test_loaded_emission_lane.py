"""A lane with a chassis dynamometer, end to end: petrol on ASM, diesel on lug-down, a full-time AWD on
the fallback; the signed bytes judged again (as the hub does) give the station's verdict."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from inspection import AsmRun, Fuel, InspectionRecord, LugDownRun, TwoSpeedIdleRun, VisualCheck
from inspection.verdicts import judge
from protos.record_mapping import record_from_bytes, record_to_bytes
from station_agent.bench_supervisor import BenchId
from station_agent.errors import BenchUnavailable, InvalidRequest
from station_agent.lane import LaneState
from station_agent.lane_config import load_lane_config
from station_agent.lane_wiring import open_lane
from tests.station_agent.lane.bench_rig import BENCHES_TABLE
from tests.station_agent.lane.lane_rig import vehicle_with
from tongjian.demo import SimulatedLane

pytestmark = pytest.mark.slow


async def test_petrol_asm_diesel_lug_down_awd_fallback_and_the_hub_agrees(tmp_path: Path) -> None:
    benches = SimulatedLane(number=1, profile="default", rtu=False, seed=1, with_dyn=True)
    config_path = await benches.start(tmp_path, pda_listen=None)
    completed: list[InspectionRecord] = []

    async def on_complete(record: InspectionRecord) -> None:
        completed.append(record)

    try:
        async with open_lane(load_lane_config(config_path), on_complete) as lane:
            assert lane.has_dynamometer
            assert any(s.bench is BenchId.DYN and s.up for s in lane.bench_statuses())
            petrol = vehicle_with(Fuel.PETROL, 0)
            diesel = vehicle_with(Fuel.DIESEL, 0)
            awd = replace(vehicle_with(Fuel.PETROL, 1), full_time_awd=True)
            for index, vehicle in enumerate((petrol, diesel, awd)):
                benches.next_vehicle(vehicle, seed=index)
                record_id = await lane.check_in(vehicle)
                view = await lane.wait_for(record_id, LaneState.VISUAL)
                assert view.state is LaneState.VISUAL, view.error
                lane.submit_checks(record_id, [VisualCheck("tyres", True, "", "50-0001-07")])
                await lane.complete(record_id)
    finally:
        await benches.stop()
    kinds = [type(record.emission) for record in completed]
    assert kinds == [AsmRun, LugDownRun, TwoSpeedIdleRun]
    for record in completed:
        arrived = record_from_bytes(record_to_bytes(record))
        assert judge(arrived) == record.station_verdict
        emission = [i for i in judge(arrived).items if i.code.startswith("emission.")]
        assert emission and all(i.outcome.value == "pass" for i in emission), emission


async def test_a_diesel_without_rated_power_is_refused_at_check_in(tmp_path: Path) -> None:
    benches = SimulatedLane(number=1, profile="default", rtu=False, seed=1, with_dyn=True)
    config_path = await benches.start(tmp_path, pda_listen=None)

    async def on_complete(record: InspectionRecord) -> None:
        raise AssertionError("nothing is completed here")

    try:
        async with open_lane(load_lane_config(config_path), on_complete) as lane:
            diesel = replace(vehicle_with(Fuel.DIESEL, 0), rated_power_kw=None)
            with pytest.raises(InvalidRequest, match="rated_power_kw"):
                await lane.check_in(diesel)
            assert lane.on_benches is None
    finally:
        await benches.stop()


async def test_the_dynamometer_is_supervised_like_the_other_benches(tmp_path: Path) -> None:
    benches = SimulatedLane(number=1, profile="default", rtu=False, seed=1, with_dyn=True)
    config_path = await benches.start(tmp_path, pda_listen=None)
    with config_path.open("a", encoding="utf-8") as lane_file:
        lane_file.write(BENCHES_TABLE)
    assert benches.dyn is not None
    port = load_lane_config(config_path).dyn.port  # type: ignore[union-attr]

    async def on_complete(record: InspectionRecord) -> None:
        return None

    try:
        async with open_lane(load_lane_config(config_path), on_complete) as lane:
            supervisor = lane.benches
            assert supervisor is not None and await supervisor.wait_up(BenchId.DYN, 5.0)
            await benches.dyn.stop()  # the dynamometer's controller goes away between vehicles
            for _ in range(100):
                if not supervisor.is_up(BenchId.DYN):
                    break
                await asyncio.sleep(0.05)
            petrol = vehicle_with(Fuel.PETROL, 0)
            with pytest.raises(BenchUnavailable) as refused:
                await lane.check_in(petrol)
            assert [s.bench for s in refused.value.down] == [BenchId.DYN]
            await lane.check_in(replace(petrol, full_time_awd=True))  # the fallback needs no dynamometer
            await benches.dyn.start_tcp(port=port)
            assert await supervisor.wait_up(BenchId.DYN, 5.0)
    finally:
        await benches.stop()

"""A visit's life beyond the benches: completion hands the record over even if the caller gives up,
and a visit never completed is let go after a while."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from inspection import Fuel, InspectionRecord
from station_agent.lane import IllegalTransition, LaneState
from station_agent.lane_config import load_lane_config
from station_agent.lane_wiring import open_lane
from tests.conftest import STATION_ID
from tests.station_agent.lane.lane_rig import vehicle_with
from tongjian.demo import SimulatedLane


async def test_a_cancelled_completion_still_settles_the_visit_by_what_the_hand_over_did(
    tmp_path: Path,
) -> None:
    benches = SimulatedLane(number=1, profile="default", rtu=False, seed=1, station_id=STATION_ID)
    config_path = await benches.start(tmp_path, pda_listen=None)
    release = asyncio.Event()
    handed_over: list[InspectionRecord] = []

    async def slow_outbox(record: InspectionRecord) -> None:
        await release.wait()  # e.g. an fsync stuck behind other disk work
        handed_over.append(record)

    try:
        async with open_lane(load_lane_config(config_path), slow_outbox) as lane:
            vehicle = vehicle_with(Fuel.ELECTRIC)
            benches.next_vehicle(vehicle, seed=0)
            record_id = await lane.check_in(vehicle)
            assert (await lane.wait_for(record_id, LaneState.VISUAL)).state is LaneState.VISUAL

            caller = asyncio.create_task(lane.complete(record_id))
            await lane.wait_for(record_id, LaneState.COMPLETING)  # the hand-over is under way
            caller.cancel()  # the PDA's deadline expired while the record was being committed
            await asyncio.gather(caller, return_exceptions=True)
            assert lane.visit(record_id).state is LaneState.COMPLETING  # not back to VISUAL

            release.set()
            view = await lane.wait_for(record_id, LaneState.COMPLETE)
            assert view.state is LaneState.COMPLETE
            assert [r.record_id for r in handed_over] == [record_id]

            # A second visit whose hand-over is still running when the lane closes is finished first.
            release.clear()
            benches.next_vehicle(vehicle_with(Fuel.ELECTRIC, 1), seed=1)
            second = await lane.check_in(vehicle_with(Fuel.ELECTRIC, 1))
            await lane.wait_for(second, LaneState.VISUAL)
            completing = asyncio.create_task(lane.complete(second))
            await lane.wait_for(second, LaneState.COMPLETING)
            asyncio.get_running_loop().call_later(0.2, release.set)
        # open_lane's exit closed the lane: it waited for the hand-over instead of cutting it off.
        assert [r.record_id for r in handed_over] == [record_id, second]
        assert (await completing).record_id == second
    finally:
        await benches.stop()


async def test_a_visit_left_open_expires_and_can_no_longer_be_completed(tmp_path: Path) -> None:
    benches = SimulatedLane(number=1, profile="default", rtu=False, seed=1, station_id=STATION_ID)
    config_path = await benches.start(tmp_path, pda_listen=None)
    handed_over: list[InspectionRecord] = []

    async def outbox(record: InspectionRecord) -> None:
        handed_over.append(record)

    try:
        config = load_lane_config(config_path)
        async with open_lane(config, outbox, open_visit_ttl=timedelta(seconds=0.3)) as lane:
            abandoned = vehicle_with(Fuel.ELECTRIC, 0)
            benches.next_vehicle(abandoned, seed=0)
            left = await lane.check_in(abandoned)
            assert (await lane.wait_for(left, LaneState.VISUAL)).state is LaneState.VISUAL
            await asyncio.sleep(0.4)  # the car drove off; nobody completed it

            following = vehicle_with(Fuel.ELECTRIC, 1)
            benches.next_vehicle(following, seed=1)
            await lane.check_in(following)  # the lane tidies up when the next car checks in
            view = lane.visit(left)
            assert view.state is LaneState.ABORTED and "not completed within" in (view.error or "")
            with pytest.raises(IllegalTransition):
                await lane.complete(left)
        assert handed_over == []
    finally:
        await benches.stop()

"""Benches that go away and come back: the lane says so, refuses check-ins that need them, and
serves again when they return, with no restart (issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from inspection import Fuel
from station_agent.bench_supervisor import BenchId
from station_agent.lane import BenchUnavailable, LaneState
from tests.station_agent.lane.bench_rig import RIG_BENCHES, SupervisedLane, supervised_lane
from tests.station_agent.lane.lane_rig import vehicle_with

FUEL_FOR = {BenchId.OPM: Fuel.DIESEL}


async def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait (polling the lane's own state) until ``condition`` holds."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def is_up(rig: SupervisedLane, bench: BenchId) -> bool:
    return {s.bench: s.up for s in rig.lane.bench_statuses()}[bench]


async def inspect(rig: SupervisedLane, fuel: Fuel, index: int) -> None:
    vehicle = vehicle_with(fuel, index)
    rig.benches.next_vehicle(vehicle, seed=index)
    record_id = await rig.lane.check_in(vehicle)
    view = await rig.lane.wait_for(record_id, LaneState.VISUAL)
    assert view.state is LaneState.VISUAL, view.error


@pytest.mark.parametrize(
    ("bench", "rtu"),
    [
        (BenchId.RBT, False),
        (BenchId.RBT, True),
        (BenchId.HLT, False),
        (BenchId.EGA, False),
        (BenchId.OPM, False),
    ],
    ids=["rbt-tcp", "rbt-rtu", "hlt", "ega", "opm"],
)
async def test_a_bench_restarted_between_vehicles_serves_the_next_one(
    tmp_path: Path, bench: BenchId, rtu: bool
) -> None:
    fuel = FUEL_FOR.get(bench, Fuel.PETROL)
    async with supervised_lane(tmp_path, rtu=rtu) as rig:
        assert all(status.up for status in rig.lane.bench_statuses())
        await inspect(rig, fuel, 0)

        await rig.benches.drop(bench)
        await eventually(lambda: not is_up(rig, bench), f"{bench} reported down")
        status = next(s for s in rig.lane.bench_statuses() if s.bench is bench)
        assert status.last_error
        with pytest.raises(BenchUnavailable, match=f"bench {bench.value} ") as refused:
            await rig.lane.check_in(vehicle_with(fuel, 1))
        assert [s.bench for s in refused.value.down] == [bench]

        await rig.benches.restore(bench)
        assert rig.lane.benches is not None
        assert await rig.lane.benches.wait_up(bench, 10.0)
        await inspect(rig, fuel, 1)
        assert [(c.bench, c.up) for c in rig.changes if c.bench is bench][-2:] == [
            (bench, False),
            (bench, True),
        ]


@pytest.mark.parametrize(
    ("bench", "state"),
    [(BenchId.RBT, LaneState.BRAKE), (BenchId.HLT, LaneState.HEADLIGHT), (BenchId.EGA, LaneState.EMISSION)],
    ids=["rbt", "hlt", "ega"],
)
async def test_a_bench_that_drops_during_a_visit_finishes_it_when_back(
    tmp_path: Path, bench: BenchId, state: LaneState
) -> None:
    async with supervised_lane(tmp_path) as rig:
        vehicle = vehicle_with(Fuel.PETROL, 0)
        rig.benches.next_vehicle(vehicle, seed=0)
        record_id = await rig.lane.check_in(vehicle)
        await rig.lane.wait_for(record_id, state)
        await rig.benches.drop(bench)
        await eventually(lambda: not is_up(rig, bench), f"{bench} reported down")
        assert rig.lane.visit(record_id).state is state
        await rig.benches.restore(bench)
        view = await rig.lane.wait_for(record_id, LaneState.VISUAL)
        assert view.state is LaneState.VISUAL, view.error


async def test_benches_missing_at_start_do_not_stop_the_lane(tmp_path: Path) -> None:
    async with supervised_lane(tmp_path, present_at_start=False) as rig:
        statuses = rig.lane.bench_statuses()
        assert [s.bench for s in statuses if not s.up] == list(RIG_BENCHES)
        with pytest.raises(BenchUnavailable) as refused:
            await rig.lane.check_in(vehicle_with(Fuel.PETROL, 0))
        assert {s.bench for s in refused.value.down} == {BenchId.RBT, BenchId.HLT, BenchId.EGA}
        assert "rbt (roller brake tester, Modbus TCP 127.0.0.1:" in str(refused.value)

        await rig.benches.bring_all()
        assert rig.lane.benches is not None
        for bench in RIG_BENCHES:
            assert await rig.lane.benches.wait_up(bench, 10.0), bench
        await inspect(rig, Fuel.PETROL, 0)


async def test_a_visit_whose_bench_stays_away_aborts_after_the_wait_naming_the_bench(tmp_path: Path) -> None:
    async with supervised_lane(tmp_path) as rig:
        rig.lane.bench_wait_s = 0.3  # [benches] wait_s
        vehicle = vehicle_with(Fuel.PETROL, 0)
        rig.benches.next_vehicle(vehicle, seed=0)
        record_id = await rig.lane.check_in(vehicle)
        await rig.lane.wait_for(record_id, LaneState.HEADLIGHT)
        await rig.benches.drop(BenchId.HLT)
        view = await rig.lane.wait_for(record_id, LaneState.EMISSION)
        assert view.state is LaneState.ABORTED
        assert view.error is not None and view.error.startswith(
            "headlight: hlt: reconnect: down for more than 0.3 s"
        )

"""A lane file may name the province's limit-set schedule instead of a fixed set: it is checked at
load, the lane's emission runs take the scheduled set, and the lane judges with the schedule (as the
hub does with ``tongjian hub serve --limit-sets`` and the same file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inspection import Fuel, LimitSet, Outcome
from station_agent.lane import LaneState
from station_agent.lane_config import LaneConfigError, lane_config_from_mapping, load_lane_config
from station_agent.lane_wiring import open_lane
from tests.station_agent.lane.lane_rig import vehicle_with
from tests.station_agent.lane.test_lane_config import _with, _without, good_mapping
from tongjian.demo import SimulatedLane

SCHEDULE = (
    '[provinces]\n"*" = [{ from = 2019-05-01, set = "a" }]\n"50" = [{ from = 2019-05-01, set = "b" }]\n'
)


def _load(data: dict[str, Any], base: Path) -> Any:
    return lane_config_from_mapping(data, file="lane.toml", base_dir=base)


def test_the_schedule_replaces_the_fixed_set_and_is_checked_at_load(tmp_path: Path) -> None:
    (tmp_path / "sets.toml").write_text(SCHEDULE, encoding="utf-8")
    (tmp_path / "bad.toml").write_text(
        '[provinces]\n"50" = [{ from = 2019-05-01, set = "c" }]\n', encoding="utf-8"
    )
    scheduled = _with(_without(good_mapping(), "limit_set"), "limit_sets", "sets.toml")
    config = _load(scheduled, tmp_path)
    assert (config.limit_set, config.limit_sets) == (None, tmp_path / "sets.toml")
    cases = [
        (_without(good_mapping(), "limit_set"), "limit_set", "missing"),
        (_with(good_mapping(), "limit_sets", "sets.toml"), "limit_set", "given together with limit_sets"),
        (_with(scheduled, "limit_sets", "bad.toml"), "limit_sets", "provinces.50[0].set: 'c' is not one of"),
        (_with(scheduled, "limit_sets", "absent.toml"), "limit_sets", "cannot read the schedule"),
    ]
    for data, key, reason in cases:
        with pytest.raises(LaneConfigError) as caught:
            _load(data, tmp_path)
        assert caught.value.key == key and reason in caught.value.reason, caught.value


@pytest.mark.slow
async def test_a_scheduled_lane_runs_and_judges_with_its_provinces_set(tmp_path: Path) -> None:
    (tmp_path / "sets.toml").write_text(SCHEDULE, encoding="utf-8")
    # A station in Chongqing (50), whose schedule differs from the other provinces' (the demo's
    # own station is in Sichuan).
    benches = SimulatedLane(number=1, profile="default", rtu=False, seed=1, station_id="50-0001")
    path = await benches.start(tmp_path, pda_listen=None)
    try:
        text = path.read_text(encoding="utf-8").replace('limit_set = "b"', 'limit_sets = "sets.toml"')
        path.write_text(text, encoding="utf-8")
        records: list[Any] = []

        async def on_complete(record: Any) -> None:
            records.append(record)

        async with open_lane(load_lane_config(path), on_complete) as lane:
            vehicle = vehicle_with(Fuel.DIESEL)
            benches.next_vehicle(vehicle, seed=1)
            record_id = await lane.check_in(vehicle)
            view = await lane.wait_for(record_id, LaneState.VISUAL)
            assert view.state is LaneState.VISUAL, view.error
            record = await lane.complete(record_id)
        assert record.emission.limit_set is LimitSet.B  # station 50-0001: province 50's set
        item = next(i for i in record.station_verdict.items if i.code == "emission.limit_set")
        assert item.outcome is Outcome.PASS and "province 50 applies set b" in item.note
    finally:
        await benches.stop()

"""The lane file's ``[benches]`` table (how a lane gets a dropped bench back) is checked at load."""

from __future__ import annotations

import pytest

from station_agent.lane_config import BenchSupervisionConfig, LaneConfigError, parse_lane_config
from tests.station_agent.lane.test_lane_config import GOOD


def test_benches_table_is_optional_and_read_when_given() -> None:
    assert parse_lane_config(GOOD).benches == BenchSupervisionConfig()
    config = parse_lane_config(GOOD + "\n[benches]\nreconnect_max_s = 2\nwait_s = 90\n")
    assert (config.benches.reconnect_max_s, config.benches.wait_s) == (2.0, 90.0)


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ("wait_s = -1", "benches.wait_s", "below the minimum"),
        ("probe_interval_s = 'often'", "benches.probe_interval_s", "must be a number"),
        ("reconect_max_s = 2", "benches", "reconect_max_s"),
    ],
)
def test_a_wrong_benches_setting_is_refused_naming_it(table: str, key: str, reason: str) -> None:
    with pytest.raises(LaneConfigError) as refused:
        parse_lane_config(GOOD + f"\n[benches]\n{table}\n", file="lane1.toml")
    assert refused.value.file == "lane1.toml"
    assert refused.value.key.startswith(key) and reason in str(refused.value)

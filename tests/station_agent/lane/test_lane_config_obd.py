"""The lane file's optional [obd] table: absent means no scan tool; each mistake named by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from station_agent.lane_config import LaneConfigError, lane_config_from_mapping
from tests.station_agent.lane.test_lane_config import _with, good_mapping


def _load(data: dict[str, Any]) -> Any:
    return lane_config_from_mapping(data, file="lane.toml", base_dir=Path("/nonexistent"))


def test_without_an_obd_table_the_lane_has_no_scan_tool_and_with_one_the_spec_defaults() -> None:
    assert _load(good_mapping()).obd is None
    obd = _load(_with(good_mapping(), "obd.serial_port", "/dev/ttyUSB3")).obd
    assert (obd.serial_port, obd.baud, obd.protocol, obd.timeout_s) == ("/dev/ttyUSB3", 38400, None, 2.0)
    adapter = obd.adapter()
    assert (adapter.config.port, adapter.config.baudrate) == ("/dev/ttyUSB3", 38400)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("obd.protocol", "Z", "'Z' is not one of"),
        ("obd.protocol", 6, "not an integer"),
        ("obd.baud", 10, "below the minimum"),
        ("obd.timeout_s", 0, "below the minimum"),
        ("obd.prot", "6", "unknown key"),
    ],
)
def test_each_obd_mistake_is_named(key: str, value: object, reason: str) -> None:
    data = _with(good_mapping(), "obd.serial_port", "/dev/ttyUSB3")
    with pytest.raises(LaneConfigError) as caught:
        _load(_with(data, key, value))
    assert caught.value.key == key and reason in caught.value.reason


def test_an_obd_table_without_its_port_is_refused() -> None:
    with pytest.raises(LaneConfigError) as caught:
        _load(_with(good_mapping(), "obd.protocol", "6"))
    assert (caught.value.key, caught.value.reason) == ("obd.serial_port", "missing")

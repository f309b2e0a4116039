"""The lane file's optional ``[dyn]`` table and the loaded procedures' timings, checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from equipment.dyn_driver import ChassisDynamometer
from station_agent.lane_config import AsmTimings, LaneConfigError, parse_lane_config
from station_agent.lane_wiring import build_equipment, supervised_benches
from tests.station_agent.lane.test_lane_config import GOOD


def test_without_dyn_the_lane_has_no_dynamometer() -> None:
    config = parse_lane_config(GOOD)
    assert config.dyn is None
    assert build_equipment(config).dyn is None
    assert config.procedures.asm == AsmTimings()


def test_a_dyn_table_builds_a_supervised_dynamometer_on_its_profile() -> None:
    config = parse_lane_config(
        GOOD + '\n[dyn]\nhost = "10.0.0.25"\nport = 5025\n[dyn.timings]\nmode_s = 1.5\n'
        "\n[procedures.asm]\nsettle_s = 4.0\nambient_relative_humidity_pct = 65.0\n"
    )
    assert config.dyn is not None and (config.dyn.host, config.dyn.port) == ("10.0.0.25", 5025)
    equipment = build_equipment(config)
    assert isinstance(equipment.dyn, ChassisDynamometer)
    assert equipment.dyn.timings.mode_s == 1.5 and equipment.dyn.profile.name == "dyn-default"
    assert equipment.dyn_link is not None and equipment.dyn_link.device == "dyn"
    assert supervised_benches(config, equipment)[-1].kind == "chassis dynamometer, Modbus TCP 10.0.0.25:5025"
    assert config.procedures.asm.settle_s == 4.0
    assert config.procedures.asm.reference_mass_addition_kg == 100.0  # the [mem] default


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ("[dyn]\nport = 502", "dyn.host", "missing"),
        ('[dyn]\nhost = "h"\nport = 70000', "dyn.port", "above the maximum"),
        ('[dyn]\nhost = "h"\nprofile = "nope.toml"', "dyn.profile", "cannot read"),
        (
            '[dyn]\nhost = "h"\n[dyn.timings]\nmode_ms = 1',
            "dyn.timings.mode_ms",
            "unknown dynamometer timing",
        ),
        ("[procedures.asm]\nload_divisor_5025 = 0.0", "procedures.asm.load_divisor_5025", "greater than"),
        (
            "[procedures.asm]\nambient_relative_humidity_pct = 120.0",
            "procedures.asm.ambient",
            "above the maximum",
        ),
        ("[procedures.lug_down]\nscan_step = 2.0", "procedures.lug_down", "unknown key"),
    ],
)
def test_a_wrong_dyn_setting_is_refused_naming_it(table: str, key: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(LaneConfigError) as refused:
        parse_lane_config(GOOD + f"\n{table}\n", file="lane1.toml", base_dir=tmp_path)
    assert refused.value.key.startswith(key), refused.value
    assert reason in str(refused.value)

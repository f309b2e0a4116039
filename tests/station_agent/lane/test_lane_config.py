"""Lane configuration: a good file loads; every mistake is one LaneConfigError naming file, key, reason."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station_agent.lane_config import (
    LaneConfig,
    LaneConfigError,
    RtuTransport,
    TcpTransport,
    lane_config_from_mapping,
    load_lane_config,
    parse_lane_config,
)

GOOD = """
station_id = "50-0001"
lane = 2
limit_set = "b"

[rbt]
transport = "tcp"
host = "127.0.0.1"
port = 1502
profile = "rbt-f"
retries = 5

[hlt]
serial_port = "/dev/ttyS1"
timeout_s = 8

[ega]
serial_port = "/dev/ttyS2"
baud = 9600

[opm]
serial_port = "/dev/ttyS3"

[procedures]
time_scale = 0.01
[procedures.two_speed_idle]
stabilise_s = 10
readings = 20
[procedures.free_acceleration]
purge_count = 2

[pda]
listen = "127.0.0.1:0"
cert = "pki/pda.cert.pem"
key = "pki/pda.key.pem"
directory = "inspectors.sqlite3"
photo_dir = "photos"
max_photo_bytes = 100000
"""


def good_mapping() -> dict[str, Any]:
    return tomllib.loads(GOOD)


def test_good_file_loads_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "lane2.toml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_lane_config(path)
    assert isinstance(config, LaneConfig)
    assert (config.station_id, config.lane, config.limit_set) == ("50-0001", 2, "b")
    assert config.rbt.transport == TcpTransport(host="127.0.0.1", port=1502, unit=1)
    assert config.rbt.profile == "rbt-f"
    assert config.rbt.retries == 5
    assert config.rbt.timeout_s == 0.5  # default
    assert config.hlt.serial_port == "/dev/ttyS1" and config.hlt.timeout_s == 8.0
    assert config.opm.baud == 9600
    assert config.procedures.time_scale == 0.01
    assert config.procedures.two_speed_idle.stabilise_s == 10.0
    assert config.procedures.two_speed_idle.readings == 20
    assert config.procedures.two_speed_idle.high_idle_rpm == 2500.0  # default
    assert config.procedures.free_acceleration.purge_count == 2
    assert config.pda is not None
    assert config.pda.directory == tmp_path / "inspectors.sqlite3"
    assert config.pda.photo_dir == tmp_path / "photos"
    assert config.source == str(path)


def test_rtu_transport() -> None:
    data = good_mapping()
    data["rbt"] = {"transport": "rtu", "serial_port": "/dev/ttyUSB0", "parity": "O", "profile": "default"}
    config = lane_config_from_mapping(data, file="x.toml", base_dir=Path("/"))
    assert config.rbt.transport == RtuTransport(serial_port="/dev/ttyUSB0", baud=19200, parity="O")


def _without(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    table = data
    for p in parents:
        table = table[p]
    del table[last]
    return data


def _with(data: dict[str, Any], dotted: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    table = data
    for p in parents:
        table = table.setdefault(p, {})
    table[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        (_without(good_mapping(), "station_id"), "station_id", "missing"),
        (_without(good_mapping(), "rbt.host"), "rbt.host", "missing"),
        (_without(good_mapping(), "ega"), "ega", "missing"),
        (_without(good_mapping(), "opm.serial_port"), "opm.serial_port", "missing"),
        (_with(good_mapping(), "lane", "2"), "lane", "must be an integer, not a string"),
        (_with(good_mapping(), "lane", True), "lane", "must be an integer, not a boolean"),
        (_with(good_mapping(), "lane", 0), "lane", "0 is below the minimum 1"),
        (_with(good_mapping(), "limit_set", "c"), "limit_set", "'c' is not one of 'a', 'b'"),
        (_with(good_mapping(), "rbt.transport", "udp"), "rbt.transport", "'udp' is not one of 'tcp', 'rtu'"),
        (_with(good_mapping(), "rbt.port", 70000), "rbt.port", "70000 is above the maximum 65535"),
        (_with(good_mapping(), "rbt.prot", 502), "rbt.prot", "unknown key"),
        (_with(good_mapping(), "hlt", "/dev/ttyS1"), "hlt", "must be a table, not a string"),
        (_with(good_mapping(), "hlt.timeout_s", float("nan")), "hlt.timeout_s", "must be a finite number"),
        (_with(good_mapping(), "ega.retries", 1.5), "ega.retries", "must be an integer, not a number"),
        (_with(good_mapping(), "procedures.time_scale", -1), "procedures.time_scale", "-1 is below the minimum 1e-06"),
        (_with(good_mapping(), "procedures.two_speed_idle.stabilise", 15), "procedures.two_speed_idle.stabilise",
         "unknown key"),
        (_with(good_mapping(), "pda.max_photo_bytes", "big"), "pda.max_photo_bytes", "must be an integer, not a string"),
        (_with(good_mapping(), "colour", "red"), "colour", "unknown key"),
    ],
)  # fmt: skip
def test_each_mistake_is_named(data: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(LaneConfigError) as caught:
        lane_config_from_mapping(data, file="lane.toml", base_dir=Path("/nonexistent"))
    assert (caught.value.file, caught.value.key, caught.value.reason) == ("lane.toml", key, reason)
    assert str(caught.value) == f"lane.toml: {key}: {reason}"


def test_bad_profile_is_refused_at_load(tmp_path: Path) -> None:
    missing = _with(good_mapping(), "rbt.profile", "no-such-profile.toml")
    with pytest.raises(LaneConfigError) as caught:
        lane_config_from_mapping(missing, file="lane.toml", base_dir=tmp_path)
    assert caught.value.key == "rbt.profile"
    assert "no-such-profile.toml" in caught.value.reason

    broken = tmp_path / "broken.toml"
    broken.write_text('[registers]\nleft_force = "nowhere"\n', encoding="utf-8")
    with pytest.raises(LaneConfigError) as caught:
        lane_config_from_mapping(
            _with(good_mapping(), "rbt.profile", "broken.toml"), file="lane.toml", base_dir=tmp_path
        )
    assert caught.value.key == "rbt.profile"


def test_not_toml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(LaneConfigError) as caught:
        parse_lane_config("station_id = ", file="bad.toml")
    assert caught.value.file == "bad.toml" and caught.value.reason.startswith("not valid TOML")
    with pytest.raises(LaneConfigError) as caught:
        load_lane_config(tmp_path / "absent.toml")
    assert caught.value.reason.startswith("cannot read")


# --- property: whatever the input, the only failure is LaneConfigError ------------------------------

toml_scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.sampled_from(["tcp", "rtu", "a", "b", "default", "rbt-f", "E", "127.0.0.1", "/dev/ttyS9"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = [
    "station_id", "lane", "limit_set", "rbt", "rbt.transport", "rbt.host", "rbt.port", "rbt.serial_port",
    "rbt.baud", "rbt.parity", "rbt.profile", "rbt.timings", "rbt.timings.weigh_s", "hlt", "hlt.serial_port",
    "ega.baud", "opm.timeout_s", "opm.retries", "procedures", "procedures.time_scale",
    "procedures.two_speed_idle", "procedures.two_speed_idle.readings", "procedures.free_acceleration.idle_s",
    "pda", "pda.listen", "pda.max_photo_bytes", "pda.session_ttl_s", "pda.cert", "pda.insecure",
    "unknown", "rbt.unknown",
]  # fmt: skip


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    data = good_mapping()
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(KEYS))
        try:
            data = _with(data, key, draw(toml_values)) if draw(st.booleans()) else _without(data, key)
        except (KeyError, TypeError, AttributeError):
            continue  # the mutation's path no longer exists in this draw: try the next one
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
def test_mutated_configs_load_or_raise_only_lane_config_error(data: dict[str, Any]) -> None:
    try:
        config = lane_config_from_mapping(data, file="fuzz.toml", base_dir=Path("/nonexistent-lane-dir"))
    except LaneConfigError as error:
        assert error.file == "fuzz.toml" and error.reason
        return
    assert isinstance(config, LaneConfig)


toml_ish_text = st.lists(
    st.one_of(
        st.sampled_from(
            ["[rbt]", "[hlt]", "[procedures.two_speed_idle]", 'transport = "rtu"', "lane = 1", "port = -1",
             'limit_set = "a"', "station_id = 7", "= 3", "[[rbt]]", 'x = """', "time_scale = inf", "a.b.c = 1"]
        ),
        st.text(max_size=30),
    ),
    max_size=12,
).map("\n".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(toml_ish_text, st.just(GOOD).map(lambda t: t.replace("=", "", 1))))
def test_arbitrary_text_raises_only_lane_config_error(text: str) -> None:
    try:
        parse_lane_config(text, file="fuzz.toml", base_dir=Path("/nonexistent-lane-dir"))
    except LaneConfigError as error:
        assert error.file == "fuzz.toml"


# --- one schema: the classes are the schema, in code as in the file ----------------------------------


def test_code_building_a_config_obeys_the_ranges_the_file_obeys() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        TcpTransport(host="127.0.0.1", port=70000)
    with pytest.raises(ValidationError):
        TcpTransport(host="", port=502)
    with pytest.raises(ValidationError):
        RtuTransport(serial_port="/dev/ttyUSB0", parity="X")  # type: ignore[arg-type]  # the point


def test_each_default_is_declared_once_on_its_field() -> None:
    # The headlight tester's longer timeout was the parser's, not the class's: built in code, the
    # headlight bench got 2 s while the file got 8 s.
    config = parse_lane_config(GOOD.replace("timeout_s = 8\n", ""), file="lane.toml")
    assert config.hlt.timeout_s == 8.0
    assert type(config.hlt)(serial_port="/dev/ttyS1").timeout_s == 8.0
    assert config.rbt == type(config.rbt)(transport=config.rbt.transport, profile="rbt-f", retries=5)


def test_links_are_built_from_the_config_object() -> None:
    from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink

    config = parse_lane_config(GOOD, file="lane.toml")
    tcp = config.rbt.link()
    assert isinstance(tcp, ModbusTcpLink)
    assert (tcp.host, tcp.port, tcp.unit, tcp.timeout, tcp.retries) == ("127.0.0.1", 1502, 1, 0.5, 5)
    data = good_mapping()
    data["rbt"] = {"transport": "rtu", "serial_port": "/dev/ttyUSB0", "parity": "O", "stop_bits": 2}
    rtu = lane_config_from_mapping(data, file="x.toml", base_dir=Path("/")).rbt.link()
    assert isinstance(rtu, ModbusRtuLink)
    assert (rtu.stop_bits, rtu.unit) == (2, 1)
    serial = config.hlt.link().config
    assert (serial.port, serial.baudrate, serial.response_timeout_s, serial.checksum_retries) == (
        "/dev/ttyS1", 9600, 8.0, 2,
    )  # fmt: skip


def test_the_limit_set_is_the_domain_enum_and_has_no_default() -> None:
    from inspection import LimitSet

    assert parse_lane_config(GOOD, file="lane.toml").limit_set is LimitSet.B
    with pytest.raises(LaneConfigError) as caught:
        lane_config_from_mapping(_without(good_mapping(), "limit_set"), file="lane.toml", base_dir=Path("/"))
    assert (caught.value.key, caught.value.reason) == ("limit_set", "missing")


def test_a_transport_that_is_not_text_is_named_before_the_keys_beside_it() -> None:
    with pytest.raises(LaneConfigError) as caught:
        lane_config_from_mapping(
            _with(good_mapping(), "rbt.transport", 5), file="lane.toml", base_dir=Path("/")
        )
    assert (caught.value.key, caught.value.reason) == (
        "rbt.transport",
        "must be one of 'tcp', 'rtu', not an integer",
    )

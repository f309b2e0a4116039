"""Every lane-file setting reaches the object it configures (``stop_bits`` used to be parsed, checked
and dropped before the RTU link). One table: each setting gets a value other than its default, the
lane opens (benches absent: nothing needs to answer), and the built link, driver, procedure settings,
supervisor and PDA service show that value. A setting the parser knows but the table misses fails
the coverage test, so a new setting cannot be added without saying where it goes."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

import equipment
from equipment.dyn_driver import DynTimings
from equipment.rbt_driver import RbtTimings
from inspection import InspectionRecord
from pki.authority import Role, init_ca, issue
from pki.grpc_credentials import server_only_channel_credentials
from protos.tongjian.v1 import lane_pb2, lane_pb2_grpc
from station_agent.errors import HttpServerError
from station_agent.lane import Lane
from station_agent.lane_config import (
    AsmTimings,
    BenchSupervisionConfig,
    DynConfig,
    FreeAccelerationTimings,
    LaneConfig,
    LugDownTimings,
    ObdBenchConfig,
    PdaConfig,
    RbtConfig,
    RtuTransport,
    SerialBenchConfig,
    TcpTransport,
    TwoSpeedIdleTimings,
    load_lane_config,
)
from station_agent.lane_wiring import LaneEquipment, open_lane
from station_agent.station import Station, StationSettings

Get = Callable[[Lane, LaneEquipment], Any]


def _timing_rows() -> list[tuple[str, object, Get]]:
    rows: list[tuple[str, object, Get]] = []
    for f in dataclasses.fields(RbtTimings):
        value = getattr(RbtTimings(), f.name) * 1.5
        rows.append((f"rbt.timings.{f.name}", value, lambda _l, e, n=f.name: getattr(e.rbt.timings, n)))
    for table, defaults, attribute in (
        ("two_speed_idle", TwoSpeedIdleTimings(), "two_speed_idle_timings"),
        ("free_acceleration", FreeAccelerationTimings(), "free_acceleration_timings"),
        ("asm", AsmTimings(), "asm_timings"),
        ("lug_down", LugDownTimings(), "lug_down_timings"),
    ):
        for f in dataclasses.fields(defaults):
            default = getattr(defaults, f.name)
            value = default + 1 if isinstance(default, int) else round(default * 0.9 + 0.05, 4)
            rows.append(
                (
                    f"procedures.{table}.{f.name}",
                    value,
                    lambda lane, _e, a=attribute, n=f.name: getattr(getattr(lane, a), n),
                )
            )
    for f in dataclasses.fields(BenchSupervisionConfig):
        value = getattr(BenchSupervisionConfig(), f.name) * 2
        if f.name == "wait_s":
            rows.append(("benches.wait_s", value, lambda lane, _e: lane.bench_wait_s))
        else:
            rows.append(
                (f"benches.{f.name}", value, lambda lane, _e, n=f.name: getattr(lane.benches.policy, n))
            )
    return rows


def _serial_rows(bench: str) -> list[tuple[str, object, Get]]:
    def link(e: LaneEquipment) -> Any:
        return getattr(e, f"{bench}_link").config

    return [
        (f"{bench}.serial_port", f"/dev/ttyUSB-{bench}", lambda _l, e: link(e).port),
        (f"{bench}.baud", 19200, lambda _l, e: link(e).baudrate),
        (f"{bench}.timeout_s", 3.25, lambda _l, e: link(e).response_timeout_s),
        (f"{bench}.retries", 5, lambda _l, e: link(e).checksum_retries),
    ]


COMMON: list[tuple[str, object, Get]] = [
    ("station_id", "50-0001", lambda lane, _e: lane.station_id),
    ("lane", 7, lambda lane, _e: lane.number),
    ("limit_set", "a", lambda lane, _e: lane.limit_set),
    ("rbt.profile", "rbt-f", lambda _l, e: e.rbt.profile.name),
    ("rbt.timeout_s", 0.75, lambda _l, e: e.rbt_link.timeout),
    ("rbt.retries", 6, lambda _l, e: e.rbt_link.retries),
    *_serial_rows("hlt"),
    *_serial_rows("ega"),
    *_serial_rows("opm"),
    ("obd.serial_port", "/dev/ttyUSB-obd", lambda _l, e: e.obd.config.port),
    ("obd.baud", 115200, lambda _l, e: e.obd.config.baudrate),
    ("obd.protocol", "7", lambda _l, e: e.obd.config.protocol),
    ("obd.timeout_s", 1.25, lambda _l, e: e.obd.config.answer_timeout_s),
    ("procedures.time_scale", 0.25, lambda lane, _e: lane.clock.time_scale),  # type: ignore[attr-defined]
    *_timing_rows(),
]
# The dynamometer (spec 5: TCP only); its port is filled in with one nothing listens on, and its
# profile is a copy of the shipped one that the test writes beside the lane file.
DYN: list[tuple[str, object, Get]] = [
    ("dyn.host", "127.0.0.1", lambda _l, e: e.dyn_link.host),
    ("dyn.port", 0, lambda _l, e: e.dyn_link.port),
    ("dyn.unit", 4, lambda _l, e: e.dyn_link.unit),
    ("dyn.profile", "dyn-vendor.toml", lambda _l, e: Path(e.dyn.profile.source).name),
    ("dyn.timeout_s", 0.8, lambda _l, e: e.dyn_link.timeout),
    ("dyn.retries", 7, lambda _l, e: e.dyn_link.retries),
    *(
        (
            f"dyn.timings.{f.name}",
            getattr(DynTimings(), f.name) * 1.5,
            lambda _l, e, n=f.name: getattr(e.dyn.timings, n),
        )
        for f in dataclasses.fields(DynTimings)
    ),
]
TCP: list[tuple[str, object, Get]] = [
    ("rbt.transport", "tcp", lambda _l, e: type(e.rbt_link).__name__ == "ModbusTcpLink" and "tcp"),
    ("rbt.host", "127.0.0.2", lambda _l, e: e.rbt_link.host),
    ("rbt.port", 0, lambda _l, e: e.rbt_link.port),  # filled in with a port nothing listens on
    ("rbt.unit", 9, lambda _l, e: e.rbt_link.unit),
]
RTU: list[tuple[str, object, Get]] = [
    ("rbt.transport", "rtu", lambda _l, e: type(e.rbt_link).__name__ == "ModbusRtuLink" and "rtu"),
    ("rbt.serial_port", "/dev/ttyUSB-rbt", lambda _l, e: e.rbt_link.serial_port),
    ("rbt.baud", 38400, lambda _l, e: e.rbt_link.baud),
    ("rbt.parity", "O", lambda _l, e: e.rbt_link.parity),
    ("rbt.stop_bits", 2, lambda _l, e: e.rbt_link.stop_bits),
    ("rbt.unit", 11, lambda _l, e: e.rbt_link.unit),
]
# The schedule replaces limit_set (one or the other): tests/station_agent/lane/test_lane_limit_sets.py.
SCHEDULE = ["limit_sets"]
PDA = [
    "pda.listen", "pda.cert", "pda.key", "pda.directory", "pda.photo_dir", "pda.max_photo_bytes",
    "pda.session_ttl_s", "pda.web_listen",
    "pda.insecure",  # the other way to serve, refused without cert and key (tests/.../test_pda_tls_and_scope.py)
]  # fmt: skip


def _toml(rows: list[tuple[str, object, Get]]) -> str:
    tables: dict[str, dict[str, object]] = {}
    for key, value, _get in rows:
        table, _, name = key.rpartition(".")
        tables.setdefault(table, {})[name] = value
    out = []
    for table, values in sorted(tables.items(), key=lambda item: item[0]):
        if table:
            out.append(f"[{table}]")
        for name, value in values.items():
            out.append(f"{name} = {value!r}".replace("'", '"'))
        out.append("")
    return "\n".join(out)


def _default_differs(key: str, value: object) -> bool:
    defaults: dict[str, object] = {
        "rbt.timeout_s": RbtConfig.__dataclass_fields__["timeout_s"].default,
        "rbt.retries": RbtConfig.__dataclass_fields__["retries"].default,
        "rbt.unit": 1,
        "rbt.baud": RtuTransport.__dataclass_fields__["baud"].default,
        "rbt.parity": RtuTransport.__dataclass_fields__["parity"].default,
        "rbt.stop_bits": RtuTransport.__dataclass_fields__["stop_bits"].default,
        "procedures.time_scale": 1.0,
    }
    return key not in defaults or defaults[key] != value


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _noop(_record: InspectionRecord) -> None:
    return None


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
async def test_every_lane_file_setting_reaches_the_object_it_configures(
    tmp_path: Path, transport: str
) -> None:
    rows = [*COMMON, *DYN, *(TCP if transport == "tcp" else RTU)]
    rows = [(k, _closed_port() if k == "dyn.port" else v, g) for k, v, g in rows]
    (tmp_path / "dyn-vendor.toml").write_text(
        (Path(equipment.__file__).parent / "profiles" / "dyn-default.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    if transport == "tcp":
        port = _closed_port()
        rows = [(k, port if k == "rbt.port" else v, g) for k, v, g in rows]
        rows = [(k, "127.0.0.1" if k == "rbt.host" else v, g) for k, v, g in rows]
    for key, value, _get in rows:
        assert _default_differs(key, value), f"{key}: the table must use a value other than the default"
    path = tmp_path / "lane.toml"
    path.write_text(_toml(rows), encoding="utf-8")
    async with open_lane(load_lane_config(path), _noop) as lane:
        assert lane.equipment is not None
        for key, value, get in rows:
            assert get(lane, lane.equipment) == value, f"{key} = {value!r} did not reach its object"


def _station_with_lane_file(tmp_path: Path, station_key: Any, text: str) -> StationSettings:
    path = tmp_path / "lane.toml"
    path.write_text(text, encoding="utf-8")
    return StationSettings(
        station_id="50-0001",
        signing_key=station_key.private_path,
        outbox_path=tmp_path / "outbox.sqlite3",
        hub_target="127.0.0.1:9",
        insecure=True,
        lanes=(load_lane_config(path),),
    )


async def test_pda_settings_reach_the_pda_service(tmp_path: Path, station_key: Any) -> None:
    port = _closed_port()
    web_port = _closed_port()
    rows = [*COMMON, *TCP]
    rows = [(k, _closed_port() if k == "rbt.port" else v, g) for k, v, g in rows]
    init_ca(tmp_path / "ca")
    issue(tmp_path / "ca", Role.LANE_SERVICE, "lanes-50-0001", tmp_path / "pda-tls")
    text = _toml(rows) + (
        f'[pda]\nlisten = "127.0.0.1:{port}"\ndirectory = "people.sqlite3"\nphoto_dir = "pictures"\n'
        "max_photo_bytes = 123456\nsession_ttl_s = 4321.0\n"
        f'web_listen = "127.0.0.1:{web_port}"\n'
        'cert = "pda-tls/lanes-50-0001.cert.pem"\nkey = "pda-tls/lanes-50-0001.key.pem"\n'
    )
    async with Station(_station_with_lane_file(tmp_path, station_key, text)) as station:
        assert station.pda_port == port
        assert station.inspectors is not None and station.inspectors.path == tmp_path / "people.sqlite3"
        assert station.photos is not None
        assert (station.photos.root, station.photos.max_bytes) == (tmp_path / "pictures", 123456)
        credential = station.inspectors.issue("50-0001-07", station_id="50-0001", lanes=[7])
        tls = server_only_channel_credentials(tmp_path / "ca" / "ca.cert.pem")
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", tls) as channel:
            reply = await lane_pb2_grpc.LaneServiceStub(channel).SignIn(
                lane_pb2.SignInRequest(inspector_id="50-0001-07", credential=credential)
            )
        assert abs(reply.expires_at.seconds - time.time() - 4321) < 60
        # The PDA page, over HTTPS with the same lane-service certificate.
        assert (station.pda_web_scheme, station.pda_web_port) == ("https", web_port)
        context = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.cert.pem"))
        context.check_hostname = False  # the certificate names the lane service, not 127.0.0.1

        def fetch() -> str:
            with urllib.request.urlopen(f"https://127.0.0.1:{web_port}/sign-in", context=context) as page:
                return str(page.read().decode())

        assert "Inspector sign-in" in await asyncio.to_thread(fetch)


async def test_a_pda_page_port_in_use_stops_the_station_by_name(tmp_path: Path, station_key: Any) -> None:
    rows = [*COMMON, *TCP]
    rows = [(k, _closed_port() if k == "rbt.port" else v, g) for k, v, g in rows]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        web_port = taken.getsockname()[1]
        text = _toml(rows) + (
            f'[pda]\nlisten = "127.0.0.1:0"\ninsecure = true\nweb_listen = "127.0.0.1:{web_port}"\n'
        )
        settings = _station_with_lane_file(tmp_path, station_key, text)
        # The station's own error (the CLI prints any StationAgentError as one line), not uvicorn's
        # or web_serving's.
        with pytest.raises(HttpServerError, match=f"PDA page: cannot listen on 127.0.0.1:{web_port}: "):
            async with Station(settings):
                pass


def test_the_table_covers_every_setting_the_parser_reads() -> None:
    covered = {key for key, _v, _g in [*COMMON, *DYN, *TCP, *RTU]} | set(PDA) | set(SCHEDULE)

    def keys(prefix: str, cls: type) -> set[str]:
        return {f"{prefix}{f.name}" for f in dataclasses.fields(cls)}

    known = (
        {"station_id", "lane", "limit_set", "limit_sets", "rbt.transport", "procedures.time_scale"}
        | keys("rbt.", TcpTransport)
        | keys("rbt.", RtuTransport)
        | {f"rbt.{name}" for name in ("profile", "timeout_s", "retries")}
        | keys("rbt.timings.", RbtTimings)
        | keys("hlt.", SerialBenchConfig)
        | keys("ega.", SerialBenchConfig)
        | keys("opm.", SerialBenchConfig)
        | keys("obd.", ObdBenchConfig)
        | keys("procedures.two_speed_idle.", TwoSpeedIdleTimings)
        | keys("procedures.free_acceleration.", FreeAccelerationTimings)
        | keys("procedures.asm.", AsmTimings)
        | keys("procedures.lug_down.", LugDownTimings)
        | (keys("dyn.", DynConfig) - {"dyn.timings"})
        | keys("dyn.timings.", DynTimings)
        | keys("benches.", BenchSupervisionConfig)
        | keys("pda.", PdaConfig)
    )
    top = {f.name for f in dataclasses.fields(LaneConfig)} - {
        "rbt", "hlt", "ega", "opm", "obd", "procedures", "pda", "benches", "source", "dyn"
    }  # fmt: skip
    assert top <= known
    assert known - covered == set(), "settings with no row in the table"

"""A lane's configuration: station, lane number, its four benches, limit set and procedure timings.

One TOML file per lane, e.g.::

    station_id = "50-0001"
    lane = 1
    limit_set = "a"                 # GB 18285 / GB 3847 limit set: "a" or "b"

    [rbt]                           # roller brake tester (Modbus)
    transport = "tcp"               # "tcp": host, port  |  "rtu": serial_port, baud, parity
    host = "10.0.0.21"
    port = 502
    profile = "default"             # "default", "rbt-f", or a profile TOML path (relative to this file)
    timeout_s = 0.5
    retries = 3
    [rbt.timings]                   # optional: the brake driver's waits, in seconds (driver field names)
    weigh_s = 2.0

    [hlt]                           # headlight tester; [ega] and [opm] take the same keys
    serial_port = "/dev/ttyS1"
    baud = 9600
    timeout_s = 8.0
    retries = 2

    [benches]                       # optional: when a bench goes away (real seconds)
    reconnect_initial_s = 0.1       # first pause between reconnection attempts, doubling ...
    reconnect_max_s = 5.0           # ... up to this
    probe_interval_s = 5.0          # STATUS asked this often while the lane is idle
    wait_s = 600.0                  # a visit waits this long for a bench that dropped, then aborts

    [procedures]                    # optional; every duration in procedure seconds
    time_scale = 1.0                # real seconds per procedure second (tests: 0.01)
    [procedures.two_speed_idle]
    stabilise_s = 15
    [procedures.free_acceleration]
    purge_count = 3

    [pda]                           # optional: the inspectors' handset service
    listen = "0.0.0.0:50071"
    cert = "pki/pda/lane-50-0001.cert.pem"   # TLS: `tongjian pki issue --role lane-service`
    key = "pki/pda/lane-50-0001.key.pem"
    # insecure = true               # instead of cert and key: PLAINTEXT, test benches only
    directory = "inspectors.sqlite3"
    photo_dir = "photos"
    max_photo_bytes = 8000000

Every mistake is refused at load, never at 3 a.m. in the middle of a brake test: a missing key, a
value of the wrong type or range, an unknown key (a typo would otherwise be silently ignored), an
unknown transport, a brake tester profile that does not load. Each is one ``LaneConfigError``
naming the file, the dotted key and the reason.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from equipment.errors import ProfileError

LimitSet = Literal["a", "b"]
Parity = Literal["N", "E", "O"]

# Shipped brake tester profiles, loaded by name; anything else is a path.
SHIPPED_RBT_PROFILES = ("default", "rbt-f")


class LaneConfigError(ValueError):
    """The lane configuration is wrong: ``file``, dotted ``key`` and ``reason`` say where and why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key or '<top level>'}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TcpTransport:
    host: str
    port: int
    unit: int = 1


@dataclass(frozen=True, slots=True)
class RtuTransport:
    serial_port: str
    baud: int = 19200
    parity: Parity = "E"
    stop_bits: int = 1
    unit: int = 1


@dataclass(frozen=True, slots=True)
class RbtConfig:
    transport: TcpTransport | RtuTransport
    profile: str  # a shipped profile name, or an absolute path to a profile TOML
    timeout_s: float = 0.5
    retries: int = 3
    # Overrides of the brake driver's timings, by field name, in procedure seconds.
    timings: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class SerialBenchConfig:
    """A bench on RS-232 (headlight tester, gas analyser, opacity meter); 8N1 per the spec."""

    serial_port: str
    baud: int = 9600
    timeout_s: float = 2.0
    retries: int = 2


@dataclass(frozen=True, slots=True)
class BenchSupervisionConfig:
    """How the lane gets a bench back (``station_agent.bench_supervisor``), in real seconds."""

    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 5.0
    probe_interval_s: float = 5.0
    wait_s: float = 600.0  # a visit whose bench dropped waits this long for it, then aborts


@dataclass(frozen=True, slots=True)
class TwoSpeedIdleTimings:
    """GB 18285-2018 two-speed idle (standards.md section 4); seconds are procedure seconds."""

    min_oil_temp_c: float = 80.0
    precondition_fraction: float = 0.7  # of the rated engine speed
    precondition_tolerance_rpm: float = 300.0
    precondition_s: float = 30.0
    high_idle_rpm: float = 2500.0
    high_idle_tolerance_rpm: float = 200.0
    low_idle_max_rpm: float = 1100.0  # above this the engine is not at its normal idle
    stabilise_s: float = 15.0
    readings: int = 30  # one a second, per phase
    rpm_wait_s: float = 60.0  # the driver has this long to bring the engine into a phase's band
    warm_up_wait_s: float = 600.0  # analyser warm-up
    zero_wait_s: float = 15.0  # analyser zeroing (spec: up to 10 s)
    default_rated_rpm: float = 5500.0  # when the vehicle record has no rated engine speed


@dataclass(frozen=True, slots=True)
class FreeAccelerationTimings:
    """GB 3847-2018 free acceleration (standards.md section 5); seconds are procedure seconds."""

    purge_count: int = 3
    measured_count: int = 3
    acceleration_s: float = 4.0  # pedal down within 1 s, held to governed speed, released
    idle_s: float = 10.0  # back at idle between accelerations
    warm_up_wait_s: float = 600.0
    zero_wait_s: float = 15.0


@dataclass(frozen=True, slots=True)
class ProcedureConfig:
    time_scale: float = 1.0
    two_speed_idle: TwoSpeedIdleTimings = field(default_factory=TwoSpeedIdleTimings)
    free_acceleration: FreeAccelerationTimings = field(default_factory=FreeAccelerationTimings)


@dataclass(frozen=True, slots=True)
class PdaConfig:
    listen: str = "127.0.0.1:50071"
    cert: Path | None = None  # the lane service's TLS certificate and key (PEM); both or neither
    key: Path | None = None
    insecure: bool = False  # plaintext, asked for explicitly instead of cert and key
    directory: Path = Path("inspectors.sqlite3")
    photo_dir: Path = Path("photos")
    max_photo_bytes: int = 8_000_000
    session_ttl_s: float = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class LaneConfig:
    station_id: str
    lane: int
    limit_set: LimitSet
    rbt: RbtConfig
    hlt: SerialBenchConfig
    ega: SerialBenchConfig
    opm: SerialBenchConfig
    procedures: ProcedureConfig = field(default_factory=ProcedureConfig)
    pda: PdaConfig | None = None
    source: str = "<string>"
    benches: BenchSupervisionConfig = field(default_factory=BenchSupervisionConfig)


def load_lane_config(path: str | Path) -> LaneConfig:
    """Read and check a lane TOML file; relative paths in it are relative to its directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LaneConfigError(str(path), "", f"cannot read: {error}") from error
    return parse_lane_config(text, file=str(path), base_dir=path.parent)


def parse_lane_config(text: str, *, file: str = "<string>", base_dir: Path | None = None) -> LaneConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LaneConfigError(file, "", f"not valid TOML: {error}") from error
    return lane_config_from_mapping(data, file=file, base_dir=base_dir or Path.cwd())


def lane_config_from_mapping(data: Mapping[str, Any], *, file: str, base_dir: Path) -> LaneConfig:
    top = _Table(data, file, "")
    config = LaneConfig(
        station_id=top.string("station_id"),
        lane=top.integer("lane", minimum=1, maximum=99),
        limit_set=top.choice("limit_set", ("a", "b")),
        rbt=_rbt(top.table("rbt"), base_dir),
        hlt=_serial_bench(top.table("hlt"), SerialBenchConfig(serial_port="", timeout_s=8.0)),
        ega=_serial_bench(top.table("ega"), SerialBenchConfig(serial_port="")),
        opm=_serial_bench(top.table("opm"), SerialBenchConfig(serial_port="")),
        procedures=_procedures(top.optional_table("procedures")),
        pda=_pda(top.optional_table("pda"), base_dir),
        source=file,
        benches=_benches(top.optional_table("benches")),
    )
    top.refuse_unknown()
    return config


def _rbt(table: _Table, base_dir: Path) -> RbtConfig:
    kind = table.choice("transport", ("tcp", "rtu"))
    transport: TcpTransport | RtuTransport
    if kind == "tcp":
        transport = TcpTransport(
            host=table.string("host"),
            port=table.integer("port", minimum=1, maximum=65535),
            unit=table.integer("unit", default=1, minimum=0, maximum=247),
        )
    else:
        transport = RtuTransport(
            serial_port=table.string("serial_port"),
            baud=table.integer("baud", default=19200, minimum=300, maximum=4_000_000),
            parity=table.choice("parity", ("N", "E", "O"), default="E"),
            stop_bits=table.integer("stop_bits", default=1, minimum=1, maximum=2),
            unit=table.integer("unit", default=1, minimum=0, maximum=247),
        )
    profile = _rbt_profile(table, base_dir)
    timings_table = table.optional_table("timings")
    timings: tuple[tuple[str, float], ...] = ()
    if timings_table is not None:
        timings = tuple(
            (name, timings_table.number(name, minimum=0.0)) for name in sorted(timings_table.keys())
        )
        _check_rbt_timings(timings_table, timings)
    config = RbtConfig(
        transport=transport,
        profile=profile,
        timeout_s=table.number("timeout_s", default=0.5, minimum=0.001),
        retries=table.integer("retries", default=3, minimum=0, maximum=100),
        timings=timings,
    )
    table.refuse_unknown()
    return config


def _rbt_profile(table: _Table, base_dir: Path) -> str:
    """Resolve and load the profile now, so a bad profile is refused with the lane configuration."""
    name = table.string("profile", default="default")
    resolved = name if name in SHIPPED_RBT_PROFILES else str((base_dir / name).resolve())
    try:
        from equipment.rbt_profile import load_profile

        load_profile(resolved)
    except ProfileError as error:
        raise LaneConfigError(table.file, table.key("profile"), f"profile {name!r}: {error}") from error
    except (OSError, ValueError) as error:
        # A path that is not there, or not a file: say so rather than let the driver fail later.
        raise LaneConfigError(table.file, table.key("profile"), f"profile {name!r}: {error}") from error
    return resolved


def _check_rbt_timings(table: _Table, timings: tuple[tuple[str, float], ...]) -> None:
    """Refuse timing names the brake driver does not have (a typo would silently keep the default)."""
    known = rbt_timing_names()
    if known is None:
        return
    for name, _ in timings:
        if name not in known:
            raise LaneConfigError(
                table.file, table.key(name), f"unknown brake tester timing; known: {', '.join(sorted(known))}"
            )


def rbt_timing_names() -> frozenset[str] | None:
    """The brake driver's timing field names, or None if its timings are not a dataclass."""
    from equipment import rbt_driver

    timings_type = getattr(rbt_driver, "RbtTimings", None)
    if timings_type is None:
        return None
    return frozenset(f.name for f in fields(timings_type))


def _serial_bench(table: _Table, defaults: SerialBenchConfig) -> SerialBenchConfig:
    config = SerialBenchConfig(
        serial_port=table.string("serial_port"),
        baud=table.integer("baud", default=defaults.baud, minimum=300, maximum=4_000_000),
        timeout_s=table.number("timeout_s", default=defaults.timeout_s, minimum=0.001),
        retries=table.integer("retries", default=defaults.retries, minimum=0, maximum=100),
    )
    table.refuse_unknown()
    return config


_T = TypeVar("_T", TwoSpeedIdleTimings, FreeAccelerationTimings)


def _procedures(table: _Table | None) -> ProcedureConfig:
    if table is None:
        return ProcedureConfig()
    tsi = table.optional_table("two_speed_idle")
    fa = table.optional_table("free_acceleration")
    config = ProcedureConfig(
        time_scale=table.number("time_scale", default=1.0, minimum=1e-6, maximum=1000.0),
        two_speed_idle=_timings(tsi, TwoSpeedIdleTimings()),
        free_acceleration=_timings(fa, FreeAccelerationTimings()),
    )
    table.refuse_unknown()
    return config


def _timings(table: _Table | None, defaults: _T) -> _T:
    """Each field may be overridden; ints stay ints (counts), floats are non-negative seconds / values."""
    if table is None:
        return defaults
    values: dict[str, Any] = {}
    for f in fields(defaults):
        default = getattr(defaults, f.name)
        if isinstance(default, int):
            values[f.name] = table.integer(f.name, default=default, minimum=1, maximum=1000)
        else:
            values[f.name] = table.number(f.name, default=default, minimum=0.0)
    table.refuse_unknown()
    return type(defaults)(**values)


def _benches(table: _Table | None) -> BenchSupervisionConfig:
    defaults = BenchSupervisionConfig()
    if table is None:
        return defaults
    config = BenchSupervisionConfig(
        **{
            f.name: table.number(f.name, default=getattr(defaults, f.name), minimum=0.001, maximum=86_400.0)
            for f in fields(defaults)
        }
    )
    table.refuse_unknown()
    return config


def _pda(table: _Table | None, base_dir: Path) -> PdaConfig | None:
    if table is None:
        return None
    defaults = PdaConfig()
    given = set(table.keys())
    cert = table.string("cert") if "cert" in given else None
    key = table.string("key") if "key" in given else None
    insecure = table.boolean("insecure", default=False)
    if (cert is None) != (key is None):
        missing = "key" if key is None else "cert"
        raise LaneConfigError(table.file, table.key(missing), "missing: TLS needs both cert and key")
    if cert is None and not insecure:
        raise LaneConfigError(
            table.file,
            table.key("cert"),
            "missing: the PDA service serves TLS (cert and key from `tongjian pki issue --role "
            "lane-service`); plaintext only with insecure = true",
        )
    if cert is not None and insecure:
        raise LaneConfigError(table.file, table.key("insecure"), "true, but cert and key are given too")
    config = PdaConfig(
        listen=table.string("listen", default=defaults.listen),
        cert=None if cert is None else base_dir / cert,
        key=None if key is None else base_dir / key,
        insecure=insecure,
        directory=base_dir / table.string("directory", default=str(defaults.directory)),
        photo_dir=base_dir / table.string("photo_dir", default=str(defaults.photo_dir)),
        max_photo_bytes=table.integer(
            "max_photo_bytes", default=defaults.max_photo_bytes, minimum=1024, maximum=100_000_000
        ),
        session_ttl_s=table.number("session_ttl_s", default=defaults.session_ttl_s, minimum=1.0),
    )
    table.refuse_unknown()
    return config


_MISSING: Any = object()


class _Table:
    """Typed access to one TOML table that remembers which keys were read, to refuse the rest."""

    def __init__(self, data: object, file: str, path: str) -> None:
        if not isinstance(data, Mapping):
            raise LaneConfigError(file, path, f"must be a table, not {_type_name(data)}")
        self._data: Mapping[str, Any] = data
        self.file = file
        self._path = path
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def keys(self) -> list[str]:
        return [str(k) for k in self._data]

    def _get(self, name: str, default: Any) -> Any:
        self._seen.add(name)
        if name in self._data:
            return self._data[name]
        if default is _MISSING:
            raise LaneConfigError(self.file, self.key(name), "missing")
        return default

    def _wrong(self, name: str, expected: str, value: object) -> LaneConfigError:
        return LaneConfigError(self.file, self.key(name), f"must be {expected}, not {_type_name(value)}")

    def string(self, name: str, default: Any = _MISSING) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise self._wrong(name, "a string", value)
        if not value.strip():
            raise LaneConfigError(self.file, self.key(name), "must not be empty")
        if "\x00" in value:
            raise LaneConfigError(self.file, self.key(name), "must not contain NUL characters")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise self._wrong(name, f"one of {', '.join(map(repr, allowed))}", value)
        if value not in allowed:
            raise LaneConfigError(
                self.file, self.key(name), f"{value!r} is not one of {', '.join(map(repr, allowed))}"
            )
        return value

    def integer(
        self, name: str, default: Any = _MISSING, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._get(name, default)
        # bool is an int in Python; `lane = true` is a mistake, not lane 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, "an integer", value)
        self._range(name, value, minimum, maximum)
        return value

    def number(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(name, "a number", value)
        if not math.isfinite(value):
            raise LaneConfigError(self.file, self.key(name), "must be a finite number")
        self._range(name, value, minimum, maximum)
        return float(value)

    def _range(self, name: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise LaneConfigError(self.file, self.key(name), f"{value} is below the minimum {minimum}")
        if maximum is not None and value > maximum:
            raise LaneConfigError(self.file, self.key(name), f"{value} is above the maximum {maximum}")

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false", value)
        return value

    def table(self, name: str) -> _Table:
        return _Table(self._get(name, _MISSING), self.file, self.key(name))

    def optional_table(self, name: str) -> _Table | None:
        value = self._get(name, None)
        return None if value is None else _Table(value, self.file, self.key(name))

    def refuse_unknown(self) -> None:
        for name in self._data:
            if name not in self._seen:
                raise LaneConfigError(self.file, self.key(str(name)), "unknown key")


def _type_name(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)  # fmt: skip

"""A lane's configuration: station, lane number, its four benches, limit set and procedure timings.

One TOML file per lane, e.g.::

    station_id = "50-0001"
    lane = 1
    limit_set = "a"                 # GB 18285 / GB 3847 limit set: "a" or "b" (inspection.LimitSet)
    # limit_sets = "limit-sets.toml"  # instead: the province / date schedule (inspection.limit_sets)

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

    [obd]                           # optional: OBD scan tool, an ELM327 adapter (spec 6)
    serial_port = "/dev/ttyUSB0"
    baud = 38400
    protocol = "6"                  # optional: ELM protocol number; absent = automatic search
    timeout_s = 2.0                 # how long the adapter may take to show its prompt

    [dyn]                           # optional: chassis dynamometer (Modbus TCP, spec 5); with it
    host = "10.0.0.25"              # petrol cars take ASM and diesels lug-down, without it the
    port = 502                      # no-load fallbacks (two-speed idle, free acceleration)
    profile = "dyn-default"         # or a profile TOML path (relative to this file)

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
    [procedures.asm]                # [mem] values of GB 18285 as defaults: RM + 100 kg, RM / 148 ...
    settle_s = 5
    [procedures.lug_down]
    scan_step_kmh = 2.0

    [pda]                           # optional: the inspectors' handset service
    listen = "0.0.0.0:50071"
    cert = "pki/pda/lane-50-0001.cert.pem"   # TLS: `tongjian pki issue --role lane-service`
    key = "pki/pda/lane-50-0001.key.pem"
    # insecure = true               # instead of cert and key: PLAINTEXT, test benches only
    directory = "inspectors.sqlite3"
    photo_dir = "photos"
    max_photo_bytes = 8000000
    web_listen = "0.0.0.0:8071"     # optional: the PDA page for a handheld's browser (HTTPS, same cert)

Every mistake is refused at load, never at 3 a.m. in the middle of a brake test: a missing key, a
value of the wrong type or range, an unknown key (a typo would otherwise be silently ignored), an
unknown transport, a brake tester profile that does not load. Each is one ``LaneConfigError``
naming the file, the dotted key and the reason.

The schema is the classes below and nothing else: each field's type, range and default are declared
once, on the field, and pydantic checks a parsed TOML table against them (unknown keys forbidden,
``strict`` scalars so ``lane = true`` or ``port = "502"`` are mistakes, not conversions). The
classes are pydantic *dataclasses* rather than ``BaseModel``s on purpose: the lane, the procedures
and their tests read them as plain frozen dataclasses (``dataclasses.fields``, ``replace``), and a
pydantic dataclass is one. ``_key_and_reason`` turns pydantic's error (loc, type, ctx) into the
``LaneConfigError(file, key, reason)`` wording users already know.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from equipment.errors import ProfileError
from inspection import LimitSet
from inspection.limit_sets import LimitSetSchedule, LimitSetScheduleError
from station_agent.errors import StationAgentError

if TYPE_CHECKING:
    from equipment.modbus_link import ModbusLink
    from equipment.obd_driver import ObdAdapter
    from equipment.serial_link import SerialLink

Parity = Literal["N", "E", "O"]

# Shipped brake tester profiles, loaded by name; anything else is a path.
SHIPPED_RBT_PROFILES = ("default", "rbt-f")

# Every table of the lane file: unknown keys are refused, NaN and infinity are not numbers.
_SCHEMA = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LaneConfigError(StationAgentError, ValueError):
    """The lane configuration is wrong: ``file``, dotted ``key`` and ``reason`` say where and why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key or '<top level>'}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


def _rule(reason: str, key: str | None = None) -> PydanticCustomError:
    """A refusal of ours inside validation; ``key`` names a sub-key of the table being checked."""
    return PydanticCustomError("lane_rule", "{reason}", {"reason": reason, "key": key})


def _text(value: str) -> str:
    if not value.strip():
        raise _rule("must not be empty")
    if "\x00" in value:
        raise _rule("must not contain NUL characters")
    return value


def _path_text(value: object) -> object:
    # A path in the lane file is a string (then resolved against the file's directory); a Path
    # object comes only from code building the config directly.
    if isinstance(value, str):
        return Path(_text(value))
    if isinstance(value, Path):
        return value
    raise PydanticCustomError("string_type", "must be a string")


_Int = Annotated[int, Strict()]
_Number = Annotated[float, Strict()]
_Text = Annotated[str, Strict(), AfterValidator(_text)]
_FilePath = Annotated[Path, BeforeValidator(_path_text)]
_Seconds = Annotated[float, Strict(), Field(ge=0.0)]
_Count = Annotated[int, Strict(), Field(ge=1, le=1000)]
_Baud = Annotated[int, Strict(), Field(ge=300, le=4_000_000)]
_Unit = Annotated[int, Strict(), Field(ge=0, le=247)]
_Retries = Annotated[int, Strict(), Field(ge=0, le=100)]
_Timeout = Annotated[float, Strict(), Field(ge=0.001)]


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    base_dir = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
    if path is None or base_dir is None:
        return path
    return Path(base_dir) / path


@dataclass(slots=True, config=_SCHEMA)
class TcpTransport:
    host: _Text
    port: Annotated[int, Strict(), Field(ge=1, le=65535)]
    unit: _Unit = 1


@dataclass(slots=True, config=_SCHEMA)
class RtuTransport:
    serial_port: _Text
    baud: _Baud = 19200
    parity: Parity = "E"
    stop_bits: Annotated[int, Strict(), Field(ge=1, le=2)] = 1
    unit: _Unit = 1


# The [rbt] table names its transport in ``transport = "tcp" | "rtu"``; the keys beside it that are
# not the tester's own go to that transport (see RbtConfig._split_transport).
_RBT_OWN_KEYS = frozenset({"profile", "timeout_s", "retries", "timings"})


def _transport_tag(value: object) -> str | None:
    if isinstance(value, TcpTransport):
        return "tcp"
    if isinstance(value, RtuTransport):
        return "rtu"
    if isinstance(value, Mapping):
        tag = value.get("transport")
        return tag if isinstance(tag, str) else None
    return None


def _drop_tag(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k != "transport"}
    return value


_Transport = Annotated[
    Annotated[TcpTransport, BeforeValidator(_drop_tag), Tag("tcp")]
    | Annotated[RtuTransport, BeforeValidator(_drop_tag), Tag("rtu")],
    Discriminator(_transport_tag, custom_error_type="transport", custom_error_message="not a transport"),
]


@dataclass(slots=True, config=_SCHEMA)
class RbtConfig:
    transport: _Transport
    # A shipped profile name, or an absolute path to a profile TOML (resolved and loaded at parse).
    profile: _Text = "default"
    timeout_s: _Timeout = 0.5
    retries: _Retries = 3
    # Overrides of the brake driver's timings, by field name, in procedure seconds.
    timings: Mapping[str, _Seconds] = Field(default_factory=dict)

    def link(self) -> ModbusLink:
        """The Modbus link this configuration describes (not yet connected)."""
        from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink

        transport = self.transport
        if isinstance(transport, TcpTransport):
            return ModbusTcpLink(
                transport.host,
                transport.port,
                unit=transport.unit,
                timeout=self.timeout_s,
                retries=self.retries,
            )
        return ModbusRtuLink(
            transport.serial_port,
            baud=transport.baud,
            parity=transport.parity,
            stop_bits=transport.stop_bits,
            unit=transport.unit,
            timeout=self.timeout_s,
            retries=self.retries,
        )

    @model_validator(mode="before")
    @classmethod
    def _split_transport(cls, data: Any) -> Any:
        """The file keeps the transport's keys flat in [rbt]; the object nests them."""
        if not isinstance(data, Mapping):
            return data  # built in code (RbtConfig(transport=TcpTransport(...))), or not a table
        if "transport" not in data:
            raise _rule("missing", "transport")
        if not isinstance(data["transport"], str):
            raise _rule(f"must be one of 'tcp', 'rtu', not {_type_name(data['transport'])}", "transport")
        own = {k: v for k, v in data.items() if k in _RBT_OWN_KEYS}
        own["transport"] = {k: v for k, v in data.items() if k not in _RBT_OWN_KEYS}
        return own

    @field_validator("profile")
    @classmethod
    def _load_profile(cls, name: str, info: ValidationInfo) -> str:
        """Resolve and load the profile now, so a bad profile is refused with the lane configuration."""
        base_dir = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
        if name in SHIPPED_RBT_PROFILES or base_dir is None:
            resolved = name
        else:
            resolved = str((Path(base_dir) / name).resolve())
        from equipment.rbt_profile import load_profile

        try:
            load_profile(resolved)
        except (ProfileError, OSError, ValueError) as error:
            # A path that is not there, or not a file: say so rather than let the driver fail later.
            raise _rule(f"profile {name!r}: {error}") from error
        return resolved

    @field_validator("timings")
    @classmethod
    def _known_timings(cls, timings: Mapping[str, float]) -> Mapping[str, float]:
        """Refuse timing names the brake driver does not have (a typo would silently keep the default)."""
        known = rbt_timing_names()
        for name in timings:
            if name not in known:
                raise _rule(f"unknown brake tester timing; known: {', '.join(sorted(known))}", name)
        return dict(sorted(timings.items()))


def rbt_timing_names() -> frozenset[str]:
    """The brake driver's timing field names."""
    from equipment.rbt_driver import RbtTimings

    return frozenset(f.name for f in fields(RbtTimings))


@dataclass(slots=True, config=_SCHEMA)
class SerialBenchConfig:
    """A bench on RS-232 (headlight tester, gas analyser, opacity meter); 8N1 per the spec."""

    serial_port: _Text
    baud: _Baud = 9600
    timeout_s: _Timeout = 2.0
    retries: _Retries = 2

    def link(self) -> SerialLink:
        """The serial link this configuration describes (not yet opened)."""
        from equipment.serial_link import SerialConfig, SerialLink

        return SerialLink(
            SerialConfig(
                port=self.serial_port,
                baudrate=self.baud,
                response_timeout_s=self.timeout_s,
                checksum_retries=self.retries,
                # The lane's bench supervisor does the retrying (with backoff); one attempt per open.
                open_attempts=1,
            )
        )


@dataclass(slots=True, config=_SCHEMA)
class HeadlightBenchConfig(SerialBenchConfig):
    """The headlight tester: a measurement takes seconds (the lamp is scanned), hence the timeout."""

    timeout_s: _Timeout = 8.0


@dataclass(slots=True, config=_SCHEMA)
class ObdBenchConfig:
    """The OBD scan tool: an ELM327-compatible adapter on a serial port, 38400 8N1 per spec 6."""

    serial_port: _Text
    baud: _Baud = 38400
    # ELM327 protocol number "1".."9" or "A"; None: the adapter searches (ATSP0), ~1 s slower.
    protocol: Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "A"] | None = None
    timeout_s: _Timeout = 2.0

    def adapter(self) -> ObdAdapter:
        """The adapter this configuration describes (its port is opened per vehicle)."""
        from equipment.obd_driver import ObdAdapter, ObdConfig

        return ObdAdapter(
            ObdConfig(
                port=self.serial_port,
                baudrate=self.baud,
                protocol=self.protocol,
                answer_timeout_s=self.timeout_s,
            )
        )


_Supervision = Annotated[float, Strict(), Field(ge=0.001, le=86_400.0)]


@dataclass(slots=True, config=_SCHEMA)
class BenchSupervisionConfig:
    """How the lane gets a bench back (``station_agent.bench_supervisor``), in real seconds."""

    reconnect_initial_s: _Supervision = 0.1
    reconnect_max_s: _Supervision = 5.0
    probe_interval_s: _Supervision = 5.0
    wait_s: _Supervision = 600.0  # a visit whose bench dropped waits this long for it, then aborts


@dataclass(slots=True, config=_SCHEMA)
class TwoSpeedIdleTimings:
    """GB 18285-2018 two-speed idle (standards.md section 4); seconds are procedure seconds."""

    min_oil_temp_c: _Seconds = 80.0
    precondition_fraction: _Seconds = 0.7  # of the rated engine speed
    precondition_tolerance_rpm: _Seconds = 300.0
    precondition_s: _Seconds = 30.0
    high_idle_rpm: _Seconds = 2500.0
    high_idle_tolerance_rpm: _Seconds = 200.0
    low_idle_max_rpm: _Seconds = 1100.0  # above this the engine is not at its normal idle
    stabilise_s: _Seconds = 15.0
    readings: _Count = 30  # one a second, per phase
    rpm_wait_s: _Seconds = 60.0  # the driver has this long to bring the engine into a phase's band
    warm_up_wait_s: _Seconds = 600.0  # analyser warm-up
    zero_wait_s: _Seconds = 15.0  # analyser zeroing (spec: up to 10 s)
    default_rated_rpm: _Seconds = 5500.0  # when the vehicle record has no rated engine speed


@dataclass(slots=True, config=_SCHEMA)
class FreeAccelerationTimings:
    """GB 3847-2018 free acceleration (standards.md section 5); seconds are procedure seconds."""

    # 0 is allowed (no purge: the procedure code handles it, and tests build timings that way).
    purge_count: Annotated[int, Strict(), Field(ge=0, le=1000)] = 3
    measured_count: _Count = 3
    acceleration_s: _Seconds = 4.0  # pedal down within 1 s, held to governed speed, released
    idle_s: _Seconds = 10.0  # back at idle between accelerations
    warm_up_wait_s: _Seconds = 600.0
    zero_wait_s: _Seconds = 15.0


@dataclass(slots=True, config=_SCHEMA)
class AsmTimings:
    """GB 18285-2018 ASM on the dynamometer (standards.md section 10); procedure seconds.

    The [mem] values of §10 that shape the test rather than judge it live here, as defaults a
    province may correct in the lane file; the speed window, the excursion allowed and the fast-pass
    fraction are the rules' (``inspection.verdicts.limits``), so lane and judge use the same ones.
    """

    reference_mass_addition_kg: _Seconds = 100.0  # [mem] RM = curb mass + 100 kg
    load_divisor_5025: Annotated[float, Strict(), Field(gt=0.0)] = 148.0  # [mem] absorbed kW = RM / 148
    load_divisor_2540: Annotated[float, Strict(), Field(gt=0.0)] = 185.0  # [mem] absorbed kW = RM / 185
    settle_s: _Seconds = 5.0  # [mem] after speed and load are reached
    phase_s: Annotated[float, Strict(), Field(ge=15.0, le=600.0)] = 90.0  # [mem] measure on to 90 s
    reach_wait_s: _Seconds = 60.0  # the driver has this long to bring the rollers into the window
    max_restarts: Annotated[int, Strict(), Field(ge=0, le=20)] = 3  # ours: then the test fails
    poll_s: Annotated[float, Strict(), Field(ge=0.01, le=1.0)] = 0.25  # speed watched this often
    warm_up_wait_s: _Seconds = 600.0
    zero_wait_s: _Seconds = 15.0
    # No weather-station bench yet: the lane's air as configured is what the record keeps and the
    # humidity correction of NO uses.
    ambient_temperature_c: Annotated[float, Strict(), Field(ge=-40.0, le=60.0)] = 20.0
    ambient_relative_humidity_pct: Annotated[float, Strict(), Field(ge=0.0, le=100.0)] = 50.0
    ambient_pressure_kpa: Annotated[float, Strict(), Field(ge=50.0, le=110.0)] = 101.3


@dataclass(slots=True, config=_SCHEMA)
class LugDownTimings:
    """GB 3847-2018 lug-down on the dynamometer (standards.md section 10); procedure seconds."""

    top_speed_wait_s: _Seconds = 40.0  # full throttle until the speed stops rising
    scan_step_kmh: Annotated[float, Strict(), Field(gt=0.0, le=20.0)] = 2.0  # ours
    scan_step_s: Annotated[float, Strict(), Field(gt=0.0)] = 3.0  # ours: settle at each step
    scan_floor_fraction: Annotated[float, Strict(), Field(gt=0.0, lt=1.0)] = 0.6  # of the top speed
    hold_settle_s: _Seconds = 3.0  # ours
    hold_measure_s: Annotated[int, Strict(), Field(ge=1, le=600)] = 5  # seconds kept per hold
    warm_up_wait_s: _Seconds = 600.0
    zero_wait_s: _Seconds = 15.0


@dataclass(slots=True, config=_SCHEMA)
class ProcedureConfig:
    time_scale: Annotated[float, Strict(), Field(ge=1e-6, le=1000.0)] = 1.0
    two_speed_idle: TwoSpeedIdleTimings = Field(default_factory=TwoSpeedIdleTimings)
    free_acceleration: FreeAccelerationTimings = Field(default_factory=FreeAccelerationTimings)
    asm: AsmTimings = Field(default_factory=AsmTimings)
    lug_down: LugDownTimings = Field(default_factory=LugDownTimings)


SHIPPED_DYN_PROFILES = ("dyn-default",)


@dataclass(slots=True, config=_SCHEMA)
class DynConfig:
    """The chassis dynamometer (spec 5: Modbus TCP). Optional: a lane without one runs the fallbacks."""

    host: _Text
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] = 502
    unit: _Unit = 1
    profile: _Text = "dyn-default"
    timeout_s: _Timeout = 0.5
    retries: _Retries = 3
    # Overrides of the dynamometer driver's timings, by field name, in real seconds.
    timings: Mapping[str, _Seconds] = Field(default_factory=dict)

    def link(self) -> ModbusLink:
        from equipment.modbus_link import ModbusTcpLink

        return ModbusTcpLink(
            self.host, self.port, unit=self.unit, timeout=self.timeout_s, retries=self.retries, device="dyn"
        )

    @field_validator("profile")
    @classmethod
    def _load_profile(cls, name: str, info: ValidationInfo) -> str:
        base_dir = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
        resolved = (
            name
            if name in SHIPPED_DYN_PROFILES or base_dir is None
            else str((Path(base_dir) / name).resolve())
        )
        from equipment.dyn_profile import load_dyn_profile

        try:
            load_dyn_profile(resolved)
        except (ProfileError, OSError, ValueError) as error:
            raise _rule(f"profile {name!r}: {error}") from error
        return resolved

    @field_validator("timings")
    @classmethod
    def _known_timings(cls, timings: Mapping[str, float]) -> Mapping[str, float]:
        from equipment.dyn_driver import DynTimings

        known = frozenset(f.name for f in fields(DynTimings))
        for name, value in timings.items():
            if name not in known:
                raise _rule(f"unknown dynamometer timing; known: {', '.join(sorted(known))}", name)
            if value <= 0:
                raise _rule(f"{value} must be positive", name)
        return dict(sorted(timings.items()))


@dataclass(slots=True, config=_SCHEMA)
class PdaConfig:
    listen: _Text = "127.0.0.1:50071"
    cert: _FilePath | None = None  # the lane service's TLS certificate and key (PEM); both or neither
    key: _FilePath | None = None
    insecure: Annotated[bool, Strict()] = False  # plaintext, asked for explicitly instead of cert and key
    directory: _FilePath = Path("inspectors.sqlite3")
    photo_dir: _FilePath = Path("photos")
    max_photo_bytes: Annotated[int, Strict(), Field(ge=1024, le=100_000_000)] = 8_000_000
    session_ttl_s: Annotated[float, Strict(), Field(ge=1.0)] = 12 * 3600.0
    # The PDA page (station_agent.pda_web) on "host:port", HTTPS with cert and key; None: no page.
    web_listen: _Text | None = None

    @field_validator("cert", "key", "directory", "photo_dir")
    @classmethod
    def _relative_to_lane_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(path, info)

    @field_validator("web_listen")
    @classmethod
    def _host_and_port(cls, address: str | None) -> str | None:
        if address is not None:
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit() or int(port) > 65535:
                raise _rule(f"{address!r} is not HOST:PORT")
        return address

    @model_validator(mode="after")
    def _tls_or_insecure(self) -> PdaConfig:
        if (self.cert is None) != (self.key is None):
            raise _rule("missing: TLS needs both cert and key", "key" if self.key is None else "cert")
        if self.cert is None and not self.insecure:
            raise _rule(
                "missing: the PDA service serves TLS (cert and key from `tongjian pki issue --role "
                "lane-service`); plaintext only with insecure = true",
                "cert",
            )
        if self.cert is not None and self.insecure:
            raise _rule("true, but cert and key are given too", "insecure")
        return self


def load_limit_sets(path: Path) -> LimitSetSchedule:
    """The province / date schedule of emission limit sets (``inspection.limit_sets``) in ``path``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise LimitSetScheduleError(str(path), "", f"cannot read the schedule: {error}") from error
    return LimitSetSchedule.from_mapping(data, source=str(path))


@dataclass(slots=True, config=_SCHEMA)
class LaneConfig:
    station_id: _Text
    lane: Annotated[int, Strict(), Field(ge=1, le=99)]
    rbt: RbtConfig
    hlt: HeadlightBenchConfig
    ega: SerialBenchConfig
    opm: SerialBenchConfig
    # The emission limit set: fixed here, or (limit_sets) looked up per inspection in the province's
    # schedule - the file the hub judges with, so both take the same set. Exactly one of the two.
    limit_set: LimitSet | None = None
    procedures: ProcedureConfig = Field(default_factory=ProcedureConfig)
    pda: PdaConfig | None = None
    dyn: DynConfig | None = None
    source: str = "<string>"  # the file it came from (set by the loader, not a key of the file)
    benches: BenchSupervisionConfig = Field(default_factory=BenchSupervisionConfig)
    obd: ObdBenchConfig | None = None  # a lane without one cannot inspect vehicles that have OBD
    limit_sets: _FilePath | None = None

    @field_validator("limit_sets")
    @classmethod
    def _schedule_loads(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        path = _resolve(path, info)
        if path is not None:
            try:
                load_limit_sets(path)
            except LimitSetScheduleError as error:
                raise _rule(f"{error.key or 'file'}: {error.reason}") from None
        return path

    @model_validator(mode="after")
    def _one_limit_set_source(self) -> LaneConfig:
        if self.limit_set is None and self.limit_sets is None:
            raise _rule("missing", "limit_set")  # (or limit_sets: the province's schedule file)
        if self.limit_set is not None and self.limit_sets is not None:
            raise _rule(
                "given together with limit_sets: the schedule decides, leave limit_set out", "limit_set"
            )
        return self


_LANE_SCHEMA = TypeAdapter(LaneConfig)


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
    if not isinstance(data, Mapping):
        raise LaneConfigError(file, "", f"must be a table, not {_type_name(data)}")
    if "source" in data:
        raise LaneConfigError(file, "source", "unknown key")
    try:
        return _LANE_SCHEMA.validate_python({**data, "source": file}, context={"base_dir": base_dir})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        key, reason = _key_and_reason(first)
        raise LaneConfigError(file, key, reason) from None


def _key_and_reason(error: Any) -> tuple[str, str]:
    """pydantic's (loc, type, ctx) in the words of the lane file: the dotted key and why."""
    loc = [str(part) for part in error["loc"]]
    kind: str = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    # The transport's keys sit flat in [rbt]: "rbt.transport.tcp.host" is "rbt.host" in the file.
    if loc[:2] == ["rbt", "transport"] and len(loc) > 2:
        loc = ["rbt", *loc[3:]]
    if kind == "lane_rule" and ctx.get("key"):
        loc.append(str(ctx["key"]))
    key = ".".join(loc)
    reasons = {
        "missing": "missing",
        "union_tag_not_found": "missing",
        "unexpected_keyword_argument": "unknown key",
        "extra_forbidden": "unknown key",
        "dataclass_type": f"must be a table, not {_type_name(value)}",
        "dict_type": f"must be a table, not {_type_name(value)}",
        "int_type": f"must be an integer, not {_type_name(value)}",
        "float_type": f"must be a number, not {_type_name(value)}",
        "string_type": f"must be a string, not {_type_name(value)}",
        "bool_type": f"must be true or false, not {_type_name(value)}",
        "finite_number": "must be a finite number",
        "greater_than_equal": f"{value} is below the minimum {ctx.get('ge')}",
        "less_than_equal": f"{value} is above the maximum {ctx.get('le')}",
    }
    if kind in reasons:
        return key, reasons[kind]
    if kind in ("literal_error", "enum"):
        allowed = ", ".join(repr(a) for a in re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        if isinstance(value, str):
            return key, f"{value!r} is not one of {allowed}"
        return key, f"must be one of {allowed}, not {_type_name(value)}"
    if kind == "transport":
        if isinstance(value, Mapping) and isinstance(value.get("transport"), str):
            return f"{key}.transport" if not key.endswith("transport") else key, (
                f"{value['transport']!r} is not one of 'tcp', 'rtu'"
            )
        return key, "must be one of 'tcp', 'rtu'"
    if kind == "lane_rule":
        return key, str(ctx["reason"])
    return key, str(error["msg"])


def _type_name(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)  # fmt: skip

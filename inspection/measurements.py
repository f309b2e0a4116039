"""Raw measurements as a lane records them, in SI-style units the rules use directly.

Forces are in newtons (1 daN = 10 N), loads in kg. ``None`` means the bench reported the value
as not available (65535 or NaN on the wire); the rules turn that into "cannot judge", never a pass.
Curve samples are whole newtons: the drivers round, far below any bench's accuracy, so that a record
survives a round trip through the protobuf contract bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class BrakeKind(StrEnum):
    SERVICE = "service"
    PARKING = "parking"


class CurveExtremes(NamedTuple):
    """The smallest and largest sample of each side; None for a side without samples."""

    left_min: int | None
    left_max: int | None
    right_min: int | None
    right_max: int | None


@dataclass(frozen=True, slots=True)
class BrakeCurve:
    sample_rate_hz: int
    left_n: tuple[int, ...]
    right_n: tuple[int, ...]
    # Worked out on first use and kept: the range check and three brake rules each need them, and
    # a four-axle record's curves were scanned 60 times over (a 300-sample side costs ~6 us a scan;
    # curves were ~40 % of judging and ~60 % of range-checking the realistic record).
    _extremes: CurveExtremes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def extremes(self) -> CurveExtremes:
        if self._extremes is None:
            left, right = self.left_n, self.right_n
            found = CurveExtremes(
                min(left) if left else None,
                max(left) if left else None,
                min(right) if right else None,
                max(right) if right else None,
            )
            object.__setattr__(self, "_extremes", found)  # a cache: the curve itself never changes
            return found
        return self._extremes


@dataclass(frozen=True, slots=True)
class BrakeTest:
    """One run of the rollers for one axle (service or parking brake)."""

    kind: BrakeKind
    left_max_n: float | None
    right_max_n: float | None
    left_drag_n: float | None
    right_drag_n: float | None
    slip_left: bool
    slip_right: bool
    curve: BrakeCurve | None
    test_counter: int = 0


@dataclass(frozen=True, slots=True)
class AxleBrake:
    axle: int  # 1 = frontmost
    left_load_kg: float | None
    right_load_kg: float | None
    service: BrakeTest
    parking: BrakeTest | None = None


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"


class Beam(StrEnum):
    HIGH = "high"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class LampMeasurement:
    """One lamp, one beam, on a screen 10 m ahead (spec section 2, ``RES`` frame)."""

    side: Side
    beam: Beam
    intensity_cd: int  # 0 for low beam
    vertical_mm: int
    horizontal_mm: int  # positive to the right
    lamp_height_mm: int


@dataclass(frozen=True, slots=True)
class GasReading:
    """One second of a two-speed idle phase (EGA ``READ``, scaled to its units)."""

    t_s: float
    hc_ppm: float
    co_pct: float
    co2_pct: float
    o2_pct: float
    no_ppm: float
    lambda_: float
    rpm: float
    oil_temp_c: float
    low_flow: bool = False
    dilution: bool = False


class LimitSet(StrEnum):
    """The emission limit set a lane applies (GB 18285-2018 / GB 3847-2018 tables, "a" or "b").

    The province decides; the lane file says which (``limit_set``), every run carries it, and the
    record's bytes carry its value. There is no default: a run without a known one cannot be made.
    """

    A = "a"
    B = "b"


def _limit_set(value: str) -> LimitSet:
    # Text from a file or a test table ("b") is the enum's value; anything else is refused here, so
    # no rule ever has to guess (it used to judge an unknown set as "a" for the clause).
    return LimitSet(value)


@dataclass(frozen=True, slots=True)
class TwoSpeedIdleRun:
    """GB 18285-2018 two-speed idle: the measured seconds of high idle and of low idle."""

    limit_set: LimitSet
    high_idle: tuple[GasReading, ...]
    low_idle: tuple[GasReading, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_set", _limit_set(self.limit_set))


@dataclass(frozen=True, slots=True)
class FreeAccelerationRun:
    """GB 3847-2018 free acceleration: the peak K (m^-1) of each measured acceleration."""

    limit_set: LimitSet
    k_per_m: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_set", _limit_set(self.limit_set))


@dataclass(frozen=True, slots=True)
class Ambient:
    """The air the engine breathes during a loaded test: the humidity correction of NO needs it."""

    temperature_c: float
    relative_humidity_pct: float
    pressure_kpa: float


@dataclass(frozen=True, slots=True)
class LoadedSecond:
    """One second of a test on the chassis dynamometer: roller and engine state, and the exhaust.

    ``power_kw`` is the power at the roller surface (absorbed + the machine's parasitic loss).
    Gas values come from the gas analyser (ASM, and NOx during lug-down); ``k_per_m`` from the
    opacity meter (lug-down), ``None`` where the test does not read it.
    """

    t_s: float
    speed_kmh: float
    power_kw: float
    rpm: float
    hc_ppm: float = 0.0
    co_pct: float = 0.0
    co2_pct: float = 0.0
    o2_pct: float = 0.0
    no_ppm: float = 0.0
    k_per_m: float | None = None
    low_flow: bool = False
    dilution: bool = False


class AsmMode(StrEnum):
    """The two steady-state loaded phases of GB 18285-2018 ASM: 50 % load at 25 km/h, 25 % at 40 km/h."""

    ASM5025 = "asm5025"
    ASM2540 = "asm2540"


@dataclass(frozen=True, slots=True)
class AsmPhase:
    """One ASM phase as run: the absorbed power set, and its measured seconds (settling excluded).

    ``restarts`` says why the phase was started again (speed out of its window too long), once per
    restart; the seconds kept are those of the attempt that counted. ``fast_pass``: ended after the
    first 10-second average, every gas well inside its limit.
    """

    mode: AsmMode
    setpoint_kw: float
    parasitic_kw: float
    fast_pass: bool
    seconds: tuple[LoadedSecond, ...]
    restarts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AsmRun:
    """GB 18285-2018 steady-state loaded test (ASM5025 then ASM2540) on a chassis dynamometer."""

    limit_set: LimitSet
    reference_mass_kg: int
    ambient: Ambient
    phases: tuple[AsmPhase, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_set", _limit_set(self.limit_set))


@dataclass(frozen=True, slots=True)
class LugDownPoint:
    """One hold of the lug-down test at ``fraction_pct`` of VelMaxHP (100, 90 or 80)."""

    fraction_pct: int
    target_speed_kmh: float
    seconds: tuple[LoadedSecond, ...]


@dataclass(frozen=True, slots=True)
class LugDownRun:
    """GB 3847-2018 lug-down (加载减速): the full-throttle power scan, then the three holds.

    ``scan`` is the power scan second by second; ``vel_max_hp_kmh`` the roller speed where the wheel
    power was highest, ``max_wheel_power_kw`` that power and ``rpm_at_max_power`` the engine speed
    there.
    """

    limit_set: LimitSet
    rated_power_kw: float
    scan: tuple[LoadedSecond, ...]
    vel_max_hp_kmh: float
    max_wheel_power_kw: float
    rpm_at_max_power: float
    points: tuple[LugDownPoint, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_set", _limit_set(self.limit_set))


EmissionRun = TwoSpeedIdleRun | FreeAccelerationRun | AsmRun | LugDownRun


@dataclass(frozen=True, slots=True)
class VisualCheck:
    """One entry for a visual / chassis check item, as a PDA inspector submitted it.

    A record keeps every entry: a later entry for an ``item_code`` already recorded is a
    correction, carries its ``correction_reason``, and is judged in place of the earlier ones.
    """

    item_code: str
    passed: bool
    note: str
    inspector_id: str
    recorded_at: datetime | None = None  # timezone-aware; None only in records from before it was kept
    correction_reason: str = ""  # empty on an item's first entry


@dataclass(frozen=True, slots=True)
class PhotoRef:
    sha256: str  # hex digest of the JPEG bytes, which are stored content-addressed
    content_type: str
    size_bytes: int
    item_code: str


class ReadinessMonitor(StrEnum):
    """The OBD readiness monitors of SAE J1979 service 01 PID 01 (continuous, spark, compression)."""

    MISFIRE = "misfire"
    FUEL_SYSTEM = "fuel_system"
    COMPONENTS = "components"
    CATALYST = "catalyst"
    HEATED_CATALYST = "heated_catalyst"
    EVAPORATIVE_SYSTEM = "evaporative_system"
    SECONDARY_AIR = "secondary_air"
    OXYGEN_SENSOR = "oxygen_sensor"
    OXYGEN_SENSOR_HEATER = "oxygen_sensor_heater"
    EGR_VVT = "egr_vvt"
    NMHC_CATALYST = "nmhc_catalyst"
    NOX_SCR = "nox_scr"
    BOOST_PRESSURE = "boost_pressure"
    EXHAUST_GAS_SENSOR = "exhaust_gas_sensor"
    PM_FILTER = "pm_filter"


@dataclass(frozen=True, slots=True)
class MonitorReadiness:
    monitor: ReadinessMonitor
    supported: bool
    complete: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "monitor", ReadinessMonitor(self.monitor))


@dataclass(frozen=True, slots=True)
class ObdCheck:
    """What the OBD scan tool read from the vehicle (GB 18285-2018 / GB 3847-2018 OBD check).

    ``communicated`` False: the adapter answered but no ECU did; every other field is then empty.
    ``vin`` None: the ECU did not give a readable VIN (service 09 PID 02 unsupported or garbled);
    ``vin_note`` says why. ``stored_dtcs`` are service 03's confirmed (emission-related) codes.
    """

    communicated: bool
    protocol: str = ""  # the ELM protocol number the adapter found ("6" = CAN 11-bit 500 kbit/s)
    mil_on: bool = False
    dtc_count: int = 0  # the ECU's own count (service 01 PID 01)
    stored_dtcs: tuple[str, ...] = ()
    readiness: tuple[MonitorReadiness, ...] = ()
    vin: str | None = None
    vin_note: str = ""

    def incomplete_monitors(self) -> tuple[ReadinessMonitor, ...]:
        """Supported monitors that have not completed since the codes were last cleared."""
        return tuple(m.monitor for m in self.readiness if m.supported and not m.complete)

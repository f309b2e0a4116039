import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VehicleClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VEHICLE_CLASS_UNSPECIFIED: _ClassVar[VehicleClass]
    VEHICLE_CLASS_M1: _ClassVar[VehicleClass]
    VEHICLE_CLASS_M2: _ClassVar[VehicleClass]
    VEHICLE_CLASS_M3: _ClassVar[VehicleClass]
    VEHICLE_CLASS_N1: _ClassVar[VehicleClass]
    VEHICLE_CLASS_N2: _ClassVar[VehicleClass]
    VEHICLE_CLASS_N3: _ClassVar[VehicleClass]
    VEHICLE_CLASS_O1: _ClassVar[VehicleClass]
    VEHICLE_CLASS_O2: _ClassVar[VehicleClass]
    VEHICLE_CLASS_O3: _ClassVar[VehicleClass]
    VEHICLE_CLASS_O4: _ClassVar[VehicleClass]
    VEHICLE_CLASS_ROAD_TRAIN: _ClassVar[VehicleClass]

class Fuel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUEL_UNSPECIFIED: _ClassVar[Fuel]
    FUEL_PETROL: _ClassVar[Fuel]
    FUEL_DIESEL: _ClassVar[Fuel]
    FUEL_ELECTRIC: _ClassVar[Fuel]
    FUEL_HYBRID_PETROL: _ClassVar[Fuel]
    FUEL_GAS: _ClassVar[Fuel]

class VehicleUse(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VEHICLE_USE_UNSPECIFIED: _ClassVar[VehicleUse]
    VEHICLE_USE_NON_OPERATING: _ClassVar[VehicleUse]
    VEHICLE_USE_OPERATING: _ClassVar[VehicleUse]

class LampSystem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAMP_SYSTEM_UNSPECIFIED: _ClassVar[LampSystem]
    LAMP_SYSTEM_TWO_LAMP: _ClassVar[LampSystem]
    LAMP_SYSTEM_FOUR_LAMP: _ClassVar[LampSystem]

class BrakeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BRAKE_KIND_UNSPECIFIED: _ClassVar[BrakeKind]
    BRAKE_KIND_SERVICE: _ClassVar[BrakeKind]
    BRAKE_KIND_PARKING: _ClassVar[BrakeKind]

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_LEFT: _ClassVar[Side]
    SIDE_RIGHT: _ClassVar[Side]

class Beam(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BEAM_UNSPECIFIED: _ClassVar[Beam]
    BEAM_HIGH: _ClassVar[Beam]
    BEAM_LOW: _ClassVar[Beam]

class InspectionPurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSPECTION_PURPOSE_UNSPECIFIED: _ClassVar[InspectionPurpose]
    INSPECTION_PURPOSE_PERIODIC: _ClassVar[InspectionPurpose]
    INSPECTION_PURPOSE_REGISTRATION: _ClassVar[InspectionPurpose]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_PASS: _ClassVar[Outcome]
    OUTCOME_FAIL: _ClassVar[Outcome]
    OUTCOME_CANNOT_JUDGE: _ClassVar[Outcome]
VEHICLE_CLASS_UNSPECIFIED: VehicleClass
VEHICLE_CLASS_M1: VehicleClass
VEHICLE_CLASS_M2: VehicleClass
VEHICLE_CLASS_M3: VehicleClass
VEHICLE_CLASS_N1: VehicleClass
VEHICLE_CLASS_N2: VehicleClass
VEHICLE_CLASS_N3: VehicleClass
VEHICLE_CLASS_O1: VehicleClass
VEHICLE_CLASS_O2: VehicleClass
VEHICLE_CLASS_O3: VehicleClass
VEHICLE_CLASS_O4: VehicleClass
VEHICLE_CLASS_ROAD_TRAIN: VehicleClass
FUEL_UNSPECIFIED: Fuel
FUEL_PETROL: Fuel
FUEL_DIESEL: Fuel
FUEL_ELECTRIC: Fuel
FUEL_HYBRID_PETROL: Fuel
FUEL_GAS: Fuel
VEHICLE_USE_UNSPECIFIED: VehicleUse
VEHICLE_USE_NON_OPERATING: VehicleUse
VEHICLE_USE_OPERATING: VehicleUse
LAMP_SYSTEM_UNSPECIFIED: LampSystem
LAMP_SYSTEM_TWO_LAMP: LampSystem
LAMP_SYSTEM_FOUR_LAMP: LampSystem
BRAKE_KIND_UNSPECIFIED: BrakeKind
BRAKE_KIND_SERVICE: BrakeKind
BRAKE_KIND_PARKING: BrakeKind
SIDE_UNSPECIFIED: Side
SIDE_LEFT: Side
SIDE_RIGHT: Side
BEAM_UNSPECIFIED: Beam
BEAM_HIGH: Beam
BEAM_LOW: Beam
INSPECTION_PURPOSE_UNSPECIFIED: InspectionPurpose
INSPECTION_PURPOSE_PERIODIC: InspectionPurpose
INSPECTION_PURPOSE_REGISTRATION: InspectionPurpose
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_PASS: Outcome
OUTCOME_FAIL: Outcome
OUTCOME_CANNOT_JUDGE: Outcome

class Date(_message.Message):
    __slots__ = ("year", "month", "day")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    year: int
    month: int
    day: int
    def __init__(self, year: _Optional[int] = ..., month: _Optional[int] = ..., day: _Optional[int] = ...) -> None: ...

class Vehicle(_message.Message):
    __slots__ = ("vin", "plate", "registration_province", "vehicle_class", "fuel", "seats", "use", "registration_date", "curb_mass_kg", "max_total_mass_kg", "axle_count", "parking_brake_axles", "lamp_system", "articulated", "high_beam_separately_adjustable", "van", "rated_engine_speed_rpm", "has_obd", "steered_axles", "full_time_awd", "rated_power_kw")
    VIN_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_CLASS_FIELD_NUMBER: _ClassVar[int]
    FUEL_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_DATE_FIELD_NUMBER: _ClassVar[int]
    CURB_MASS_KG_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_MASS_KG_FIELD_NUMBER: _ClassVar[int]
    AXLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARKING_BRAKE_AXLES_FIELD_NUMBER: _ClassVar[int]
    LAMP_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    ARTICULATED_FIELD_NUMBER: _ClassVar[int]
    HIGH_BEAM_SEPARATELY_ADJUSTABLE_FIELD_NUMBER: _ClassVar[int]
    VAN_FIELD_NUMBER: _ClassVar[int]
    RATED_ENGINE_SPEED_RPM_FIELD_NUMBER: _ClassVar[int]
    HAS_OBD_FIELD_NUMBER: _ClassVar[int]
    STEERED_AXLES_FIELD_NUMBER: _ClassVar[int]
    FULL_TIME_AWD_FIELD_NUMBER: _ClassVar[int]
    RATED_POWER_KW_FIELD_NUMBER: _ClassVar[int]
    vin: str
    plate: str
    registration_province: str
    vehicle_class: VehicleClass
    fuel: Fuel
    seats: int
    use: VehicleUse
    registration_date: Date
    curb_mass_kg: int
    max_total_mass_kg: int
    axle_count: int
    parking_brake_axles: _containers.RepeatedScalarFieldContainer[int]
    lamp_system: LampSystem
    articulated: bool
    high_beam_separately_adjustable: bool
    van: bool
    rated_engine_speed_rpm: int
    has_obd: bool
    steered_axles: _containers.RepeatedScalarFieldContainer[int]
    full_time_awd: bool
    rated_power_kw: int
    def __init__(self, vin: _Optional[str] = ..., plate: _Optional[str] = ..., registration_province: _Optional[str] = ..., vehicle_class: _Optional[_Union[VehicleClass, str]] = ..., fuel: _Optional[_Union[Fuel, str]] = ..., seats: _Optional[int] = ..., use: _Optional[_Union[VehicleUse, str]] = ..., registration_date: _Optional[_Union[Date, _Mapping]] = ..., curb_mass_kg: _Optional[int] = ..., max_total_mass_kg: _Optional[int] = ..., axle_count: _Optional[int] = ..., parking_brake_axles: _Optional[_Iterable[int]] = ..., lamp_system: _Optional[_Union[LampSystem, str]] = ..., articulated: _Optional[bool] = ..., high_beam_separately_adjustable: _Optional[bool] = ..., van: _Optional[bool] = ..., rated_engine_speed_rpm: _Optional[int] = ..., has_obd: _Optional[bool] = ..., steered_axles: _Optional[_Iterable[int]] = ..., full_time_awd: _Optional[bool] = ..., rated_power_kw: _Optional[int] = ...) -> None: ...

class BrakeTest(_message.Message):
    __slots__ = ("kind", "left_max_force_n", "right_max_force_n", "left_drag_n", "right_drag_n", "slip_left", "slip_right", "sample_rate_hz", "left_curve_n", "right_curve_n", "test_counter")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEFT_MAX_FORCE_N_FIELD_NUMBER: _ClassVar[int]
    RIGHT_MAX_FORCE_N_FIELD_NUMBER: _ClassVar[int]
    LEFT_DRAG_N_FIELD_NUMBER: _ClassVar[int]
    RIGHT_DRAG_N_FIELD_NUMBER: _ClassVar[int]
    SLIP_LEFT_FIELD_NUMBER: _ClassVar[int]
    SLIP_RIGHT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    LEFT_CURVE_N_FIELD_NUMBER: _ClassVar[int]
    RIGHT_CURVE_N_FIELD_NUMBER: _ClassVar[int]
    TEST_COUNTER_FIELD_NUMBER: _ClassVar[int]
    kind: BrakeKind
    left_max_force_n: float
    right_max_force_n: float
    left_drag_n: float
    right_drag_n: float
    slip_left: bool
    slip_right: bool
    sample_rate_hz: int
    left_curve_n: _containers.RepeatedScalarFieldContainer[int]
    right_curve_n: _containers.RepeatedScalarFieldContainer[int]
    test_counter: int
    def __init__(self, kind: _Optional[_Union[BrakeKind, str]] = ..., left_max_force_n: _Optional[float] = ..., right_max_force_n: _Optional[float] = ..., left_drag_n: _Optional[float] = ..., right_drag_n: _Optional[float] = ..., slip_left: _Optional[bool] = ..., slip_right: _Optional[bool] = ..., sample_rate_hz: _Optional[int] = ..., left_curve_n: _Optional[_Iterable[int]] = ..., right_curve_n: _Optional[_Iterable[int]] = ..., test_counter: _Optional[int] = ...) -> None: ...

class AxleBrake(_message.Message):
    __slots__ = ("axle", "left_wheel_load_kg", "right_wheel_load_kg", "service", "parking")
    AXLE_FIELD_NUMBER: _ClassVar[int]
    LEFT_WHEEL_LOAD_KG_FIELD_NUMBER: _ClassVar[int]
    RIGHT_WHEEL_LOAD_KG_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    PARKING_FIELD_NUMBER: _ClassVar[int]
    axle: int
    left_wheel_load_kg: float
    right_wheel_load_kg: float
    service: BrakeTest
    parking: BrakeTest
    def __init__(self, axle: _Optional[int] = ..., left_wheel_load_kg: _Optional[float] = ..., right_wheel_load_kg: _Optional[float] = ..., service: _Optional[_Union[BrakeTest, _Mapping]] = ..., parking: _Optional[_Union[BrakeTest, _Mapping]] = ...) -> None: ...

class LampMeasurement(_message.Message):
    __slots__ = ("side", "beam", "intensity_cd", "vertical_mm", "horizontal_mm", "lamp_height_mm")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    BEAM_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_CD_FIELD_NUMBER: _ClassVar[int]
    VERTICAL_MM_FIELD_NUMBER: _ClassVar[int]
    HORIZONTAL_MM_FIELD_NUMBER: _ClassVar[int]
    LAMP_HEIGHT_MM_FIELD_NUMBER: _ClassVar[int]
    side: Side
    beam: Beam
    intensity_cd: int
    vertical_mm: int
    horizontal_mm: int
    lamp_height_mm: int
    def __init__(self, side: _Optional[_Union[Side, str]] = ..., beam: _Optional[_Union[Beam, str]] = ..., intensity_cd: _Optional[int] = ..., vertical_mm: _Optional[int] = ..., horizontal_mm: _Optional[int] = ..., lamp_height_mm: _Optional[int] = ...) -> None: ...

class GasReading(_message.Message):
    __slots__ = ("t_s", "hc_ppm", "co_pct", "co2_pct", "o2_pct", "no_ppm", "rpm", "oil_temp_c", "low_flow", "dilution")
    T_S_FIELD_NUMBER: _ClassVar[int]
    HC_PPM_FIELD_NUMBER: _ClassVar[int]
    CO_PCT_FIELD_NUMBER: _ClassVar[int]
    CO2_PCT_FIELD_NUMBER: _ClassVar[int]
    O2_PCT_FIELD_NUMBER: _ClassVar[int]
    NO_PPM_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    RPM_FIELD_NUMBER: _ClassVar[int]
    OIL_TEMP_C_FIELD_NUMBER: _ClassVar[int]
    LOW_FLOW_FIELD_NUMBER: _ClassVar[int]
    DILUTION_FIELD_NUMBER: _ClassVar[int]
    t_s: float
    hc_ppm: float
    co_pct: float
    co2_pct: float
    o2_pct: float
    no_ppm: float
    rpm: float
    oil_temp_c: float
    low_flow: bool
    dilution: bool
    def __init__(self, t_s: _Optional[float] = ..., hc_ppm: _Optional[float] = ..., co_pct: _Optional[float] = ..., co2_pct: _Optional[float] = ..., o2_pct: _Optional[float] = ..., no_ppm: _Optional[float] = ..., rpm: _Optional[float] = ..., oil_temp_c: _Optional[float] = ..., low_flow: _Optional[bool] = ..., dilution: _Optional[bool] = ..., **kwargs) -> None: ...

class TwoSpeedIdle(_message.Message):
    __slots__ = ("high_idle", "low_idle")
    HIGH_IDLE_FIELD_NUMBER: _ClassVar[int]
    LOW_IDLE_FIELD_NUMBER: _ClassVar[int]
    high_idle: _containers.RepeatedCompositeFieldContainer[GasReading]
    low_idle: _containers.RepeatedCompositeFieldContainer[GasReading]
    def __init__(self, high_idle: _Optional[_Iterable[_Union[GasReading, _Mapping]]] = ..., low_idle: _Optional[_Iterable[_Union[GasReading, _Mapping]]] = ...) -> None: ...

class FreeAcceleration(_message.Message):
    __slots__ = ("k_per_m",)
    K_PER_M_FIELD_NUMBER: _ClassVar[int]
    k_per_m: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, k_per_m: _Optional[_Iterable[float]] = ...) -> None: ...

class LoadedSecond(_message.Message):
    __slots__ = ("t_s", "speed_kmh", "power_kw", "rpm", "hc_ppm", "co_pct", "co2_pct", "o2_pct", "no_ppm", "k_per_m", "low_flow", "dilution")
    T_S_FIELD_NUMBER: _ClassVar[int]
    SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    POWER_KW_FIELD_NUMBER: _ClassVar[int]
    RPM_FIELD_NUMBER: _ClassVar[int]
    HC_PPM_FIELD_NUMBER: _ClassVar[int]
    CO_PCT_FIELD_NUMBER: _ClassVar[int]
    CO2_PCT_FIELD_NUMBER: _ClassVar[int]
    O2_PCT_FIELD_NUMBER: _ClassVar[int]
    NO_PPM_FIELD_NUMBER: _ClassVar[int]
    K_PER_M_FIELD_NUMBER: _ClassVar[int]
    LOW_FLOW_FIELD_NUMBER: _ClassVar[int]
    DILUTION_FIELD_NUMBER: _ClassVar[int]
    t_s: float
    speed_kmh: float
    power_kw: float
    rpm: float
    hc_ppm: float
    co_pct: float
    co2_pct: float
    o2_pct: float
    no_ppm: float
    k_per_m: float
    low_flow: bool
    dilution: bool
    def __init__(self, t_s: _Optional[float] = ..., speed_kmh: _Optional[float] = ..., power_kw: _Optional[float] = ..., rpm: _Optional[float] = ..., hc_ppm: _Optional[float] = ..., co_pct: _Optional[float] = ..., co2_pct: _Optional[float] = ..., o2_pct: _Optional[float] = ..., no_ppm: _Optional[float] = ..., k_per_m: _Optional[float] = ..., low_flow: _Optional[bool] = ..., dilution: _Optional[bool] = ...) -> None: ...

class Ambient(_message.Message):
    __slots__ = ("temperature_c", "relative_humidity_pct", "pressure_kpa")
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_HUMIDITY_PCT_FIELD_NUMBER: _ClassVar[int]
    PRESSURE_KPA_FIELD_NUMBER: _ClassVar[int]
    temperature_c: float
    relative_humidity_pct: float
    pressure_kpa: float
    def __init__(self, temperature_c: _Optional[float] = ..., relative_humidity_pct: _Optional[float] = ..., pressure_kpa: _Optional[float] = ...) -> None: ...

class AsmPhase(_message.Message):
    __slots__ = ("mode", "setpoint_kw", "parasitic_kw", "fast_pass", "seconds", "restarts")
    MODE_FIELD_NUMBER: _ClassVar[int]
    SETPOINT_KW_FIELD_NUMBER: _ClassVar[int]
    PARASITIC_KW_FIELD_NUMBER: _ClassVar[int]
    FAST_PASS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    mode: str
    setpoint_kw: float
    parasitic_kw: float
    fast_pass: bool
    seconds: _containers.RepeatedCompositeFieldContainer[LoadedSecond]
    restarts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mode: _Optional[str] = ..., setpoint_kw: _Optional[float] = ..., parasitic_kw: _Optional[float] = ..., fast_pass: _Optional[bool] = ..., seconds: _Optional[_Iterable[_Union[LoadedSecond, _Mapping]]] = ..., restarts: _Optional[_Iterable[str]] = ...) -> None: ...

class Asm(_message.Message):
    __slots__ = ("reference_mass_kg", "ambient", "phases")
    REFERENCE_MASS_KG_FIELD_NUMBER: _ClassVar[int]
    AMBIENT_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    reference_mass_kg: int
    ambient: Ambient
    phases: _containers.RepeatedCompositeFieldContainer[AsmPhase]
    def __init__(self, reference_mass_kg: _Optional[int] = ..., ambient: _Optional[_Union[Ambient, _Mapping]] = ..., phases: _Optional[_Iterable[_Union[AsmPhase, _Mapping]]] = ...) -> None: ...

class LugDownPoint(_message.Message):
    __slots__ = ("fraction_pct", "target_speed_kmh", "seconds")
    FRACTION_PCT_FIELD_NUMBER: _ClassVar[int]
    TARGET_SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    fraction_pct: int
    target_speed_kmh: float
    seconds: _containers.RepeatedCompositeFieldContainer[LoadedSecond]
    def __init__(self, fraction_pct: _Optional[int] = ..., target_speed_kmh: _Optional[float] = ..., seconds: _Optional[_Iterable[_Union[LoadedSecond, _Mapping]]] = ...) -> None: ...

class LugDown(_message.Message):
    __slots__ = ("rated_power_kw", "scan", "vel_max_hp_kmh", "max_wheel_power_kw", "rpm_at_max_power", "points")
    RATED_POWER_KW_FIELD_NUMBER: _ClassVar[int]
    SCAN_FIELD_NUMBER: _ClassVar[int]
    VEL_MAX_HP_KMH_FIELD_NUMBER: _ClassVar[int]
    MAX_WHEEL_POWER_KW_FIELD_NUMBER: _ClassVar[int]
    RPM_AT_MAX_POWER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    rated_power_kw: float
    scan: _containers.RepeatedCompositeFieldContainer[LoadedSecond]
    vel_max_hp_kmh: float
    max_wheel_power_kw: float
    rpm_at_max_power: float
    points: _containers.RepeatedCompositeFieldContainer[LugDownPoint]
    def __init__(self, rated_power_kw: _Optional[float] = ..., scan: _Optional[_Iterable[_Union[LoadedSecond, _Mapping]]] = ..., vel_max_hp_kmh: _Optional[float] = ..., max_wheel_power_kw: _Optional[float] = ..., rpm_at_max_power: _Optional[float] = ..., points: _Optional[_Iterable[_Union[LugDownPoint, _Mapping]]] = ...) -> None: ...

class Emission(_message.Message):
    __slots__ = ("limit_set", "two_speed_idle", "free_acceleration", "asm", "lug_down")
    LIMIT_SET_FIELD_NUMBER: _ClassVar[int]
    TWO_SPEED_IDLE_FIELD_NUMBER: _ClassVar[int]
    FREE_ACCELERATION_FIELD_NUMBER: _ClassVar[int]
    ASM_FIELD_NUMBER: _ClassVar[int]
    LUG_DOWN_FIELD_NUMBER: _ClassVar[int]
    limit_set: str
    two_speed_idle: TwoSpeedIdle
    free_acceleration: FreeAcceleration
    asm: Asm
    lug_down: LugDown
    def __init__(self, limit_set: _Optional[str] = ..., two_speed_idle: _Optional[_Union[TwoSpeedIdle, _Mapping]] = ..., free_acceleration: _Optional[_Union[FreeAcceleration, _Mapping]] = ..., asm: _Optional[_Union[Asm, _Mapping]] = ..., lug_down: _Optional[_Union[LugDown, _Mapping]] = ...) -> None: ...

class MonitorReadiness(_message.Message):
    __slots__ = ("monitor", "supported", "complete")
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    monitor: str
    supported: bool
    complete: bool
    def __init__(self, monitor: _Optional[str] = ..., supported: _Optional[bool] = ..., complete: _Optional[bool] = ...) -> None: ...

class ObdCheck(_message.Message):
    __slots__ = ("communicated", "protocol", "mil_on", "dtc_count", "stored_dtcs", "readiness", "vin", "vin_note")
    COMMUNICATED_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    MIL_ON_FIELD_NUMBER: _ClassVar[int]
    DTC_COUNT_FIELD_NUMBER: _ClassVar[int]
    STORED_DTCS_FIELD_NUMBER: _ClassVar[int]
    READINESS_FIELD_NUMBER: _ClassVar[int]
    VIN_FIELD_NUMBER: _ClassVar[int]
    VIN_NOTE_FIELD_NUMBER: _ClassVar[int]
    communicated: bool
    protocol: str
    mil_on: bool
    dtc_count: int
    stored_dtcs: _containers.RepeatedScalarFieldContainer[str]
    readiness: _containers.RepeatedCompositeFieldContainer[MonitorReadiness]
    vin: str
    vin_note: str
    def __init__(self, communicated: _Optional[bool] = ..., protocol: _Optional[str] = ..., mil_on: _Optional[bool] = ..., dtc_count: _Optional[int] = ..., stored_dtcs: _Optional[_Iterable[str]] = ..., readiness: _Optional[_Iterable[_Union[MonitorReadiness, _Mapping]]] = ..., vin: _Optional[str] = ..., vin_note: _Optional[str] = ...) -> None: ...

class VisualCheck(_message.Message):
    __slots__ = ("item_code", "passed", "note", "inspector_id", "recorded_at", "correction_reason")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    INSPECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    CORRECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    passed: bool
    note: str
    inspector_id: str
    recorded_at: _timestamp_pb2.Timestamp
    correction_reason: str
    def __init__(self, item_code: _Optional[str] = ..., passed: _Optional[bool] = ..., note: _Optional[str] = ..., inspector_id: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correction_reason: _Optional[str] = ...) -> None: ...

class PhotoRef(_message.Message):
    __slots__ = ("sha256", "content_type", "size_bytes", "item_code")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    content_type: str
    size_bytes: int
    item_code: str
    def __init__(self, sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., item_code: _Optional[str] = ...) -> None: ...

class VerdictItem(_message.Message):
    __slots__ = ("code", "clause", "measured", "limit", "unit", "outcome", "note")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CLAUSE_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    code: str
    clause: str
    measured: float
    limit: float
    unit: str
    outcome: Outcome
    note: str
    def __init__(self, code: _Optional[str] = ..., clause: _Optional[str] = ..., measured: _Optional[float] = ..., limit: _Optional[float] = ..., unit: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., note: _Optional[str] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("overall", "items")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    overall: Outcome
    items: _containers.RepeatedCompositeFieldContainer[VerdictItem]
    def __init__(self, overall: _Optional[_Union[Outcome, str]] = ..., items: _Optional[_Iterable[_Union[VerdictItem, _Mapping]]] = ...) -> None: ...

class InspectionRecord(_message.Message):
    __slots__ = ("record_id", "station_id", "lane", "vehicle", "started_at", "finished_at", "axles", "station_verdict", "lamps", "emission", "visual_checks", "photos", "obd", "purpose", "laden")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    AXLES_FIELD_NUMBER: _ClassVar[int]
    STATION_VERDICT_FIELD_NUMBER: _ClassVar[int]
    LAMPS_FIELD_NUMBER: _ClassVar[int]
    EMISSION_FIELD_NUMBER: _ClassVar[int]
    VISUAL_CHECKS_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    OBD_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LADEN_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    station_id: str
    lane: int
    vehicle: Vehicle
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    axles: _containers.RepeatedCompositeFieldContainer[AxleBrake]
    station_verdict: Verdict
    lamps: _containers.RepeatedCompositeFieldContainer[LampMeasurement]
    emission: Emission
    visual_checks: _containers.RepeatedCompositeFieldContainer[VisualCheck]
    photos: _containers.RepeatedCompositeFieldContainer[PhotoRef]
    obd: ObdCheck
    purpose: InspectionPurpose
    laden: bool
    def __init__(self, record_id: _Optional[str] = ..., station_id: _Optional[str] = ..., lane: _Optional[int] = ..., vehicle: _Optional[_Union[Vehicle, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., axles: _Optional[_Iterable[_Union[AxleBrake, _Mapping]]] = ..., station_verdict: _Optional[_Union[Verdict, _Mapping]] = ..., lamps: _Optional[_Iterable[_Union[LampMeasurement, _Mapping]]] = ..., emission: _Optional[_Union[Emission, _Mapping]] = ..., visual_checks: _Optional[_Iterable[_Union[VisualCheck, _Mapping]]] = ..., photos: _Optional[_Iterable[_Union[PhotoRef, _Mapping]]] = ..., obd: _Optional[_Union[ObdCheck, _Mapping]] = ..., purpose: _Optional[_Union[InspectionPurpose, str]] = ..., laden: _Optional[bool] = ...) -> None: ...

class SignedRecord(_message.Message):
    __slots__ = ("record", "key_id", "signature")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    record: bytes
    key_id: str
    signature: bytes
    def __init__(self, record: _Optional[bytes] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

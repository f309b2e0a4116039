"""Convert inspection records between ``inspection`` dataclasses and ``tongjian.v1`` protobuf.

This is the only module where domain types meet protobuf. ``record_from_proto`` is also the hub's
gate for what a station sent: anything structurally wrong raises ``MalformedRecord`` naming the
field path and what was wrong, so the hub can reject the record with that reason.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import TypeVar

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError, Message

from inspection import (
    Ambient,
    AsmMode,
    AsmPhase,
    AsmRun,
    AxleBrake,
    Beam,
    BrakeCurve,
    BrakeKind,
    EmissionRun,
    FreeAccelerationRun,
    Fuel,
    GasReading,
    InspectionRecord,
    InvalidIdentifier,
    LampMeasurement,
    LampSystem,
    LimitSet,
    LoadedSecond,
    LugDownPoint,
    LugDownRun,
    Outcome,
    PhotoRef,
    Side,
    TwoSpeedIdleRun,
    Vehicle,
    VehicleClass,
    VehicleUse,
    Verdict,
    VerdictItem,
    VisualCheck,
    validate_plate,
    validate_vin,
)
from inspection.measurements import BrakeTest, MonitorReadiness, ObdCheck, ReadinessMonitor
from inspection.record import InspectionPurpose
from inspection.record_limits import MAX_COUNT, Part
from protos.errors import ProtosError
from protos.tongjian.v1 import inspection_pb2 as pb

E = TypeVar("E", bound=Enum)

# Bounds on repeated fields, from the one table station and hub share (inspection.record_limits):
# checked here, before building the domain objects, so a huge message costs no more than its count.
MAX_AXLES = MAX_COUNT[Part.AXLES]
MAX_LAMPS = MAX_COUNT[Part.LAMPS]
MAX_CURVE_SAMPLES = MAX_COUNT[Part.CURVE_SAMPLES]
MAX_GAS_READINGS = MAX_COUNT[Part.GAS_READINGS]
MAX_K_VALUES = MAX_COUNT[Part.K_VALUES]
MAX_LOADED_SECONDS = MAX_COUNT[Part.LOADED_SECONDS]
MAX_LOADED_PHASES = MAX_COUNT[Part.LOADED_PHASES]
MAX_RESTARTS = MAX_COUNT[Part.RESTARTS]
MAX_VISUAL_CHECKS = MAX_COUNT[Part.VISUAL_CHECKS]
MAX_PHOTOS = MAX_COUNT[Part.PHOTOS]
MAX_VERDICT_ITEMS = MAX_COUNT[Part.VERDICT_ITEMS]


class MalformedRecord(ProtosError, ValueError):
    """A record payload that cannot be a valid inspection record; ``path`` names the field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# One table per enum: domain member <-> protobuf number. UNSPECIFIED (0) is never valid on input.
_VEHICLE_CLASS = {
    VehicleClass.M1: pb.VEHICLE_CLASS_M1, VehicleClass.M2: pb.VEHICLE_CLASS_M2,
    VehicleClass.M3: pb.VEHICLE_CLASS_M3, VehicleClass.N1: pb.VEHICLE_CLASS_N1,
    VehicleClass.N2: pb.VEHICLE_CLASS_N2, VehicleClass.N3: pb.VEHICLE_CLASS_N3,
    VehicleClass.O1: pb.VEHICLE_CLASS_O1, VehicleClass.O2: pb.VEHICLE_CLASS_O2,
    VehicleClass.O3: pb.VEHICLE_CLASS_O3, VehicleClass.O4: pb.VEHICLE_CLASS_O4,
    VehicleClass.ROAD_TRAIN: pb.VEHICLE_CLASS_ROAD_TRAIN,
}  # fmt: skip
_PURPOSE = {
    InspectionPurpose.PERIODIC: pb.INSPECTION_PURPOSE_PERIODIC,
    InspectionPurpose.REGISTRATION: pb.INSPECTION_PURPOSE_REGISTRATION,
}
# Not in _PURPOSE (UNSPECIFIED is refused elsewhere): here it is what records without a purpose hold.
_PURPOSE_UNSPECIFIED = pb.INSPECTION_PURPOSE_UNSPECIFIED
_FUEL = {
    Fuel.PETROL: pb.FUEL_PETROL, Fuel.DIESEL: pb.FUEL_DIESEL, Fuel.ELECTRIC: pb.FUEL_ELECTRIC,
    Fuel.HYBRID_PETROL: pb.FUEL_HYBRID_PETROL, Fuel.GAS: pb.FUEL_GAS,
}  # fmt: skip
_USE = {
    VehicleUse.NON_OPERATING: pb.VEHICLE_USE_NON_OPERATING,
    VehicleUse.OPERATING: pb.VEHICLE_USE_OPERATING,
}
_LAMP_SYSTEM = {LampSystem.TWO_LAMP: pb.LAMP_SYSTEM_TWO_LAMP, LampSystem.FOUR_LAMP: pb.LAMP_SYSTEM_FOUR_LAMP}
_BRAKE_KIND = {BrakeKind.SERVICE: pb.BRAKE_KIND_SERVICE, BrakeKind.PARKING: pb.BRAKE_KIND_PARKING}
_SIDE = {Side.LEFT: pb.SIDE_LEFT, Side.RIGHT: pb.SIDE_RIGHT}
_BEAM = {Beam.HIGH: pb.BEAM_HIGH, Beam.LOW: pb.BEAM_LOW}
_OUTCOME = {
    Outcome.PASS: pb.OUTCOME_PASS,
    Outcome.FAIL: pb.OUTCOME_FAIL,
    Outcome.CANNOT_JUDGE: pb.OUTCOME_CANNOT_JUDGE,
}


def _enum_from(table: Mapping[E, int], number: int, path: str) -> E:
    for member, value in table.items():
        if value == number:
            return member
    raise MalformedRecord(path, f"unknown or unspecified enum value {number}")


def _opt(message: Message, name: str) -> float | None:
    if not message.HasField(name):
        return None
    value: float = getattr(message, name)
    return value


def _finite(value: float | None, path: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise MalformedRecord(path, f"not a finite number: {value}")
    return value


# ---------------------------------------------------------------- domain -> protobuf


def record_to_proto(record: InspectionRecord) -> pb.InspectionRecord:
    message = pb.InspectionRecord(
        record_id=str(record.record_id),
        station_id=record.station_id,
        lane=record.lane,
        vehicle=vehicle_to_proto(record.vehicle),
        axles=[_axle_to_proto(axle) for axle in record.axles],
        lamps=[
            pb.LampMeasurement(
                side=_SIDE[lamp.side], beam=_BEAM[lamp.beam], intensity_cd=lamp.intensity_cd,
                vertical_mm=lamp.vertical_mm, horizontal_mm=lamp.horizontal_mm,
                lamp_height_mm=lamp.lamp_height_mm,
            )
            for lamp in record.lamps
        ],
        visual_checks=[_visual_check_to_proto(c) for c in record.visual_checks],
        photos=[
            pb.PhotoRef(sha256=p.sha256, content_type=p.content_type, size_bytes=p.size_bytes, item_code=p.item_code)
            for p in record.photos
        ],
    )  # fmt: skip
    message.started_at.FromDatetime(record.started_at.astimezone(UTC))
    message.finished_at.FromDatetime(record.finished_at.astimezone(UTC))
    if record.emission is not None:
        message.emission.CopyFrom(_emission_to_proto(record.emission))
    if record.station_verdict is not None:
        message.station_verdict.CopyFrom(verdict_to_proto(record.station_verdict))
    if record.obd is not None:
        message.obd.CopyFrom(_obd_to_proto(record.obd))
    message.purpose = purpose_to_proto(record.purpose)
    message.laden = record.laden
    return message


def _obd_to_proto(check: ObdCheck) -> pb.ObdCheck:
    message = pb.ObdCheck(
        communicated=check.communicated, protocol=check.protocol, mil_on=check.mil_on,
        dtc_count=check.dtc_count, stored_dtcs=list(check.stored_dtcs),
        readiness=[
            pb.MonitorReadiness(monitor=m.monitor.value, supported=m.supported, complete=m.complete)
            for m in check.readiness
        ],
        vin_note=check.vin_note,
    )  # fmt: skip
    if check.vin is not None:
        message.vin = check.vin
    return message


def _obd_from_proto(message: pb.ObdCheck) -> ObdCheck:
    _at_most(len(message.stored_dtcs), MAX_COUNT[Part.STORED_DTCS], "obd.stored_dtcs")
    _at_most(len(message.readiness), MAX_COUNT[Part.READINESS_MONITORS], "obd.readiness")
    readiness = []
    for i, monitor in enumerate(message.readiness):
        try:
            name = ReadinessMonitor(monitor.monitor)
        except ValueError:
            raise MalformedRecord(
                f"obd.readiness[{i}].monitor", f"unknown monitor {monitor.monitor!r}"
            ) from None
        readiness.append(MonitorReadiness(name, monitor.supported, monitor.complete))
    return ObdCheck(
        communicated=message.communicated,
        protocol=message.protocol,
        mil_on=message.mil_on,
        dtc_count=message.dtc_count,
        stored_dtcs=tuple(message.stored_dtcs),
        readiness=tuple(readiness),
        vin=message.vin if message.HasField("vin") else None,
        vin_note=message.vin_note,
    )


def record_to_bytes(record: InspectionRecord) -> bytes:
    """The canonical bytes a station signs (deterministic serialization)."""
    return record_to_proto(record).SerializeToString(deterministic=True)


def vehicle_to_proto(vehicle: Vehicle) -> pb.Vehicle:
    registered = vehicle.registration_date
    return pb.Vehicle(
        vin=vehicle.vin, plate=vehicle.plate, registration_province=vehicle.registration_province,
        vehicle_class=_VEHICLE_CLASS[vehicle.vehicle_class], fuel=_FUEL[vehicle.fuel], seats=vehicle.seats,
        use=_USE[vehicle.use],
        registration_date=pb.Date(year=registered.year, month=registered.month, day=registered.day),
        curb_mass_kg=vehicle.curb_mass_kg, max_total_mass_kg=vehicle.max_total_mass_kg,
        axle_count=vehicle.axle_count, parking_brake_axles=list(vehicle.parking_brake_axles),
        lamp_system=_LAMP_SYSTEM[vehicle.lamp_system], articulated=vehicle.articulated,
        high_beam_separately_adjustable=vehicle.high_beam_separately_adjustable, van=vehicle.van,
        rated_engine_speed_rpm=vehicle.rated_engine_speed_rpm or 0, has_obd=vehicle.has_obd,
        steered_axles=list(vehicle.steered_axles or ()),
        full_time_awd=vehicle.full_time_awd, rated_power_kw=vehicle.rated_power_kw or 0,
    )  # fmt: skip


def _brake_test_to_proto(test: BrakeTest) -> pb.BrakeTest:
    message = pb.BrakeTest(
        kind=_BRAKE_KIND[test.kind], slip_left=test.slip_left, slip_right=test.slip_right,
        test_counter=test.test_counter,
    )  # fmt: skip
    for name, value in (
        ("left_max_force_n", test.left_max_n),
        ("right_max_force_n", test.right_max_n),
        ("left_drag_n", test.left_drag_n),
        ("right_drag_n", test.right_drag_n),
    ):
        if value is not None:
            setattr(message, name, value)
    if test.curve is not None:
        message.sample_rate_hz = test.curve.sample_rate_hz
        message.left_curve_n.extend(test.curve.left_n)
        message.right_curve_n.extend(test.curve.right_n)
    return message


def _axle_to_proto(axle: AxleBrake) -> pb.AxleBrake:
    message = pb.AxleBrake(axle=axle.axle, service=_brake_test_to_proto(axle.service))
    if axle.left_load_kg is not None:
        message.left_wheel_load_kg = axle.left_load_kg
    if axle.right_load_kg is not None:
        message.right_wheel_load_kg = axle.right_load_kg
    if axle.parking is not None:
        message.parking.CopyFrom(_brake_test_to_proto(axle.parking))
    return message


def _gas_to_proto(reading: GasReading) -> pb.GasReading:
    return pb.GasReading(
        t_s=reading.t_s, hc_ppm=reading.hc_ppm, co_pct=reading.co_pct, co2_pct=reading.co2_pct,
        o2_pct=reading.o2_pct, no_ppm=reading.no_ppm, rpm=reading.rpm, oil_temp_c=reading.oil_temp_c,
        low_flow=reading.low_flow, dilution=reading.dilution, **{"lambda": reading.lambda_},
    )  # fmt: skip


def _emission_to_proto(run: EmissionRun) -> pb.Emission:
    if isinstance(run, TwoSpeedIdleRun):
        return pb.Emission(
            limit_set=run.limit_set.value,
            two_speed_idle=pb.TwoSpeedIdle(
                high_idle=[_gas_to_proto(r) for r in run.high_idle],
                low_idle=[_gas_to_proto(r) for r in run.low_idle],
            ),
        )
    if isinstance(run, FreeAccelerationRun):
        return pb.Emission(
            limit_set=run.limit_set.value, free_acceleration=pb.FreeAcceleration(k_per_m=list(run.k_per_m))
        )
    if isinstance(run, AsmRun):
        a = run.ambient
        return pb.Emission(
            limit_set=run.limit_set.value,
            asm=pb.Asm(
                reference_mass_kg=run.reference_mass_kg,
                ambient=pb.Ambient(
                    temperature_c=a.temperature_c,
                    relative_humidity_pct=a.relative_humidity_pct,
                    pressure_kpa=a.pressure_kpa,
                ),
                phases=[
                    pb.AsmPhase(
                        mode=p.mode.value,
                        setpoint_kw=p.setpoint_kw,
                        parasitic_kw=p.parasitic_kw,
                        fast_pass=p.fast_pass,
                        seconds=[_second_to_proto(s) for s in p.seconds],
                        restarts=list(p.restarts),
                    )
                    for p in run.phases
                ],
            ),
        )
    return pb.Emission(
        limit_set=run.limit_set.value,
        lug_down=pb.LugDown(
            rated_power_kw=run.rated_power_kw, scan=[_second_to_proto(s) for s in run.scan],
            vel_max_hp_kmh=run.vel_max_hp_kmh, max_wheel_power_kw=run.max_wheel_power_kw,
            rpm_at_max_power=run.rpm_at_max_power,
            points=[
                pb.LugDownPoint(
                    fraction_pct=p.fraction_pct, target_speed_kmh=p.target_speed_kmh,
                    seconds=[_second_to_proto(s) for s in p.seconds],
                )
                for p in run.points
            ],
        ),
    )  # fmt: skip


def _second_to_proto(second: LoadedSecond) -> pb.LoadedSecond:
    message = pb.LoadedSecond(
        t_s=second.t_s, speed_kmh=second.speed_kmh, power_kw=second.power_kw, rpm=second.rpm,
        hc_ppm=second.hc_ppm, co_pct=second.co_pct, co2_pct=second.co2_pct, o2_pct=second.o2_pct,
        no_ppm=second.no_ppm, low_flow=second.low_flow, dilution=second.dilution,
    )  # fmt: skip
    if second.k_per_m is not None:
        message.k_per_m = second.k_per_m
    return message


def verdict_to_proto(verdict: Verdict) -> pb.Verdict:
    message = pb.Verdict(overall=_OUTCOME[verdict.overall])
    for item in verdict.items:
        entry = message.items.add(
            code=item.code, clause=item.clause, unit=item.unit, outcome=_OUTCOME[item.outcome], note=item.note
        )
        if item.measured is not None:
            entry.measured = item.measured
        if item.limit is not None:
            entry.limit = item.limit
    return message


# ---------------------------------------------------------------- protobuf -> domain


def record_from_bytes(payload: bytes) -> InspectionRecord:
    """Parse and validate a signed payload; raises ``MalformedRecord`` with the offending field."""
    return record_from_proto(_parsed(payload))


def _parsed(payload: bytes) -> pb.InspectionRecord:
    message = pb.InspectionRecord()
    try:
        message.ParseFromString(payload)
    except DecodeError as error:
        raise MalformedRecord("record", f"not a valid InspectionRecord protobuf ({error})") from error
    return message


@dataclass(frozen=True, slots=True)
class RecordHead:
    """Who inspected which vehicle and when, without the measurements: what a reader that does
    not judge (the label issuer) needs, for a tenth of a whole record's parse."""

    record_id: uuid.UUID
    station_id: str
    vehicle: Vehicle
    started_at: datetime
    finished_at: datetime


def record_head_from_bytes(payload: bytes) -> RecordHead:
    """The head of a signed payload, checked as ``record_from_bytes`` checks those fields."""
    return _head_from_proto(_parsed(payload))


def _head_from_proto(message: pb.InspectionRecord) -> RecordHead:
    try:
        record_id = uuid.UUID(message.record_id)
    except ValueError as error:
        raise MalformedRecord("record_id", f"not a UUID: {message.record_id!r}") from error
    if not message.station_id:
        raise MalformedRecord("station_id", "empty")
    if not message.HasField("vehicle"):
        raise MalformedRecord("vehicle", "missing")
    for name in ("started_at", "finished_at"):
        if not message.HasField(name):
            raise MalformedRecord(name, "missing")
    started = _datetime_from(message.started_at, "started_at")
    finished = _datetime_from(message.finished_at, "finished_at")
    if finished < started:
        raise MalformedRecord(
            "finished_at", f"{finished.isoformat()} is before started_at {started.isoformat()}"
        )
    return RecordHead(record_id, message.station_id, vehicle_from_proto(message.vehicle), started, finished)


def _at_most(count: int, limit: int, path: str) -> None:
    if count > limit:
        raise MalformedRecord(path, f"{count} entries, at most {limit} allowed")


def record_from_proto(message: pb.InspectionRecord) -> InspectionRecord:
    for name, limit in (
        ("axles", MAX_AXLES),
        ("lamps", MAX_LAMPS),
        ("visual_checks", MAX_VISUAL_CHECKS),
        ("photos", MAX_PHOTOS),
    ):
        _at_most(len(getattr(message, name)), limit, name)
    head = _head_from_proto(message)
    axle_numbers = [axle.axle for axle in message.axles]
    if len(set(axle_numbers)) != len(axle_numbers):
        raise MalformedRecord("axles", f"an axle appears twice: {axle_numbers}")
    return InspectionRecord(
        record_id=head.record_id,
        station_id=head.station_id,
        lane=message.lane,
        vehicle=head.vehicle,
        started_at=head.started_at,
        finished_at=head.finished_at,
        axles=tuple(_axle_from_proto(a, f"axles[{i}]") for i, a in enumerate(message.axles)),
        lamps=tuple(_lamp_from_proto(lamp, f"lamps[{i}]") for i, lamp in enumerate(message.lamps)),
        emission=_emission_from_proto(message.emission) if message.HasField("emission") else None,
        visual_checks=tuple(
            _visual_check_from_proto(c, f"visual_checks[{i}]") for i, c in enumerate(message.visual_checks)
        ),
        photos=tuple(_photo_from_proto(p, f"photos[{i}]") for i, p in enumerate(message.photos)),
        station_verdict=(
            verdict_from_proto(message.station_verdict) if message.HasField("station_verdict") else None
        ),
        obd=_obd_from_proto(message.obd) if message.HasField("obd") else None,
        purpose=purpose_from_proto(message.purpose),
        laden=message.laden,
    )


def _visual_check_to_proto(check: VisualCheck) -> pb.VisualCheck:
    message = pb.VisualCheck(
        item_code=check.item_code,
        passed=check.passed,
        note=check.note,
        inspector_id=check.inspector_id,
        correction_reason=check.correction_reason,
    )
    if check.recorded_at is not None:
        message.recorded_at.FromDatetime(check.recorded_at.astimezone(UTC))
    return message


def _visual_check_from_proto(message: pb.VisualCheck, path: str) -> VisualCheck:
    return VisualCheck(
        item_code=message.item_code,
        passed=message.passed,
        note=message.note,
        inspector_id=message.inspector_id,
        # absent in records signed before entries were timed: kept as unknown, not invented
        recorded_at=(
            _datetime_from(message.recorded_at, f"{path}.recorded_at")
            if message.HasField("recorded_at")
            else None
        ),
        correction_reason=message.correction_reason,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _datetime_from(timestamp: timestamp_pb2.Timestamp, path: str) -> datetime:
    # What Timestamp.ToDatetime(tzinfo=UTC) gives, at half its cost (a record has two dozen).
    nanos = timestamp.nanos
    if not 0 <= nanos < 1_000_000_000:
        raise MalformedRecord(path, f"not a valid timestamp (nanos {nanos} outside 0..999999999)")
    try:
        return _EPOCH + timedelta(seconds=timestamp.seconds, microseconds=nanos // 1000)
    except OverflowError as error:
        raise MalformedRecord(path, f"not a valid timestamp ({error})") from error


def vehicle_from_proto(message: pb.Vehicle) -> Vehicle:
    """A vehicle from a record or a lane check-in; ``MalformedRecord`` names the field (``vehicle.vin``)."""

    def checked(field: str, validate: Callable[[str], str], value: str) -> str:
        try:
            return validate(value)
        except InvalidIdentifier as error:
            raise MalformedRecord(f"vehicle.{field}", error.reason) from error

    try:
        registered = date(
            message.registration_date.year, message.registration_date.month, message.registration_date.day
        )
    except ValueError as error:
        raise MalformedRecord("vehicle.registration_date", str(error)) from error
    if not (message.registration_province.isdigit() and len(message.registration_province) == 2):
        raise MalformedRecord(
            "vehicle.registration_province",
            f"expected a two-digit GB/T 2260 code, got {message.registration_province!r}",
        )
    if message.axle_count < 1:
        raise MalformedRecord("vehicle.axle_count", "a vehicle has at least one axle")
    for field_name in ("parking_brake_axles", "steered_axles"):
        for axle in getattr(message, field_name):
            if not 1 <= axle <= message.axle_count:
                raise MalformedRecord(f"vehicle.{field_name}", f"axle {axle} outside 1..{message.axle_count}")
    return Vehicle(
        vin=checked("vin", validate_vin, message.vin),
        plate=checked("plate", validate_plate, message.plate),
        registration_province=message.registration_province,
        vehicle_class=_enum_from(_VEHICLE_CLASS, message.vehicle_class, "vehicle.vehicle_class"),
        fuel=_enum_from(_FUEL, message.fuel, "vehicle.fuel"),
        seats=message.seats,
        use=_enum_from(_USE, message.use, "vehicle.use"),
        registration_date=registered,
        curb_mass_kg=message.curb_mass_kg,
        max_total_mass_kg=message.max_total_mass_kg,
        axle_count=message.axle_count,
        parking_brake_axles=tuple(message.parking_brake_axles),
        lamp_system=_enum_from(_LAMP_SYSTEM, message.lamp_system, "vehicle.lamp_system"),
        articulated=message.articulated,
        high_beam_separately_adjustable=message.high_beam_separately_adjustable,
        van=message.van,
        rated_engine_speed_rpm=message.rated_engine_speed_rpm or None,
        has_obd=message.has_obd,
        steered_axles=tuple(message.steered_axles) or None,
        full_time_awd=message.full_time_awd,
        rated_power_kw=message.rated_power_kw or None,
    )


def _brake_test_from_proto(message: pb.BrakeTest, path: str) -> BrakeTest:
    _at_most(len(message.left_curve_n), MAX_CURVE_SAMPLES, f"{path}.left_curve_n")
    if len(message.left_curve_n) != len(message.right_curve_n):
        raise MalformedRecord(
            f"{path}.right_curve_n",
            f"{len(message.right_curve_n)} samples, left curve has {len(message.left_curve_n)}",
        )
    curve = None
    if message.left_curve_n:
        if message.sample_rate_hz == 0:
            raise MalformedRecord(f"{path}.sample_rate_hz", "zero while the curves hold samples")
        # A slice first: upb copies it in one go, a third faster than iterating the container.
        curve = BrakeCurve(
            message.sample_rate_hz, tuple(message.left_curve_n[:]), tuple(message.right_curve_n[:])
        )
    values = {
        name: _finite(_opt(message, name), f"{path}.{name}")
        for name in ("left_max_force_n", "right_max_force_n", "left_drag_n", "right_drag_n")
    }
    return BrakeTest(
        kind=_enum_from(_BRAKE_KIND, message.kind, f"{path}.kind"),
        left_max_n=values["left_max_force_n"],
        right_max_n=values["right_max_force_n"],
        left_drag_n=values["left_drag_n"],
        right_drag_n=values["right_drag_n"],
        slip_left=message.slip_left,
        slip_right=message.slip_right,
        curve=curve,
        test_counter=message.test_counter,
    )


def _axle_from_proto(message: pb.AxleBrake, path: str) -> AxleBrake:
    if message.axle < 1:
        raise MalformedRecord(f"{path}.axle", "axles are numbered from 1")
    if not message.HasField("service"):
        raise MalformedRecord(f"{path}.service", "missing")
    return AxleBrake(
        axle=message.axle,
        left_load_kg=_finite(_opt(message, "left_wheel_load_kg"), f"{path}.left_wheel_load_kg"),
        right_load_kg=_finite(_opt(message, "right_wheel_load_kg"), f"{path}.right_wheel_load_kg"),
        service=_brake_test_from_proto(message.service, f"{path}.service"),
        parking=_brake_test_from_proto(message.parking, f"{path}.parking")
        if message.HasField("parking")
        else None,
    )


def _lamp_from_proto(message: pb.LampMeasurement, path: str) -> LampMeasurement:
    return LampMeasurement(
        side=_enum_from(_SIDE, message.side, f"{path}.side"),
        beam=_enum_from(_BEAM, message.beam, f"{path}.beam"),
        intensity_cd=message.intensity_cd,
        vertical_mm=message.vertical_mm,
        horizontal_mm=message.horizontal_mm,
        lamp_height_mm=message.lamp_height_mm,
    )


_GAS_FIELDS = ("t_s", "hc_ppm", "co_pct", "co2_pct", "o2_pct", "no_ppm", "lambda", "rpm", "oil_temp_c")


def _gas_from_proto(message: pb.GasReading, path: str) -> GasReading:
    for name in _GAS_FIELDS:
        _finite(getattr(message, name), f"{path}.{name}")
    return GasReading(
        t_s=message.t_s, hc_ppm=message.hc_ppm, co_pct=message.co_pct, co2_pct=message.co2_pct,
        o2_pct=message.o2_pct, no_ppm=message.no_ppm, lambda_=getattr(message, "lambda"), rpm=message.rpm,
        oil_temp_c=message.oil_temp_c, low_flow=message.low_flow, dilution=message.dilution,
    )  # fmt: skip


def _gas_phase(readings: Sequence[pb.GasReading], path: str) -> tuple[GasReading, ...]:
    _at_most(len(readings), MAX_GAS_READINGS, path)
    return tuple(_gas_from_proto(r, f"{path}[{i}]") for i, r in enumerate(readings))


def _emission_from_proto(message: pb.Emission) -> EmissionRun:
    try:
        limit_set = LimitSet(message.limit_set)
    except ValueError:
        allowed = " or ".join(repr(member.value) for member in LimitSet)
        raise MalformedRecord(
            "emission.limit_set", f"expected {allowed}, got {message.limit_set!r}"
        ) from None
    run = message.WhichOneof("run")
    if run == "two_speed_idle":
        return TwoSpeedIdleRun(
            limit_set=limit_set,
            high_idle=_gas_phase(message.two_speed_idle.high_idle, "emission.two_speed_idle.high_idle"),
            low_idle=_gas_phase(message.two_speed_idle.low_idle, "emission.two_speed_idle.low_idle"),
        )
    if run == "free_acceleration":
        k_values = message.free_acceleration.k_per_m
        path = "emission.free_acceleration.k_per_m"
        _at_most(len(k_values), MAX_K_VALUES, path)
        for i, k in enumerate(k_values):
            _finite(k, f"{path}[{i}]")
        return FreeAccelerationRun(limit_set=limit_set, k_per_m=tuple(k_values))
    if run == "asm":
        return _asm_from_proto(message.asm, limit_set)
    if run == "lug_down":
        return _lug_down_from_proto(message.lug_down, limit_set)
    raise MalformedRecord("emission.run", "none of two_speed_idle, free_acceleration, asm, lug_down is set")


_SECOND_FIELDS = ("t_s", "speed_kmh", "power_kw", "rpm", "hc_ppm", "co_pct", "co2_pct", "o2_pct", "no_ppm")


def _seconds(messages: Sequence[pb.LoadedSecond], path: str) -> tuple[LoadedSecond, ...]:
    _at_most(len(messages), MAX_LOADED_SECONDS, path)
    out = []
    for i, m in enumerate(messages):
        at = f"{path}[{i}]"
        for name in _SECOND_FIELDS:
            _finite(getattr(m, name), f"{at}.{name}")
        out.append(
            LoadedSecond(
                t_s=m.t_s,
                speed_kmh=m.speed_kmh,
                power_kw=m.power_kw,
                rpm=m.rpm,
                hc_ppm=m.hc_ppm,
                co_pct=m.co_pct,
                co2_pct=m.co2_pct,
                o2_pct=m.o2_pct,
                no_ppm=m.no_ppm,
                k_per_m=_finite(_opt(m, "k_per_m"), f"{at}.k_per_m"),
                low_flow=m.low_flow,
                dilution=m.dilution,
            )
        )
    return tuple(out)


def _asm_from_proto(message: pb.Asm, limit_set: LimitSet) -> AsmRun:
    path = "emission.asm"
    if not message.HasField("ambient"):
        raise MalformedRecord(f"{path}.ambient", "missing: the humidity correction needs it")
    a = message.ambient
    for name in ("temperature_c", "relative_humidity_pct", "pressure_kpa"):
        _finite(getattr(a, name), f"{path}.ambient.{name}")
    _at_most(len(message.phases), MAX_LOADED_PHASES, f"{path}.phases")
    phases = []
    for i, p in enumerate(message.phases):
        at = f"{path}.phases[{i}]"
        try:
            mode = AsmMode(p.mode)
        except ValueError:
            allowed = " or ".join(repr(m.value) for m in AsmMode)
            raise MalformedRecord(f"{at}.mode", f"expected {allowed}, got {p.mode!r}") from None
        _finite(p.setpoint_kw, f"{at}.setpoint_kw")
        _finite(p.parasitic_kw, f"{at}.parasitic_kw")
        _at_most(len(p.restarts), MAX_RESTARTS, f"{at}.restarts")
        phases.append(
            AsmPhase(
                mode=mode,
                setpoint_kw=p.setpoint_kw,
                parasitic_kw=p.parasitic_kw,
                fast_pass=p.fast_pass,
                seconds=_seconds(p.seconds, f"{at}.seconds"),
                restarts=tuple(p.restarts),
            )
        )
    return AsmRun(
        limit_set=limit_set,
        reference_mass_kg=message.reference_mass_kg,
        ambient=Ambient(a.temperature_c, a.relative_humidity_pct, a.pressure_kpa),
        phases=tuple(phases),
    )


def _lug_down_from_proto(message: pb.LugDown, limit_set: LimitSet) -> LugDownRun:
    path = "emission.lug_down"
    for name in ("rated_power_kw", "vel_max_hp_kmh", "max_wheel_power_kw", "rpm_at_max_power"):
        _finite(getattr(message, name), f"{path}.{name}")
    _at_most(len(message.points), MAX_LOADED_PHASES, f"{path}.points")
    return LugDownRun(
        limit_set=limit_set,
        rated_power_kw=message.rated_power_kw,
        scan=_seconds(message.scan, f"{path}.scan"),
        vel_max_hp_kmh=message.vel_max_hp_kmh,
        max_wheel_power_kw=message.max_wheel_power_kw,
        rpm_at_max_power=message.rpm_at_max_power,
        points=tuple(
            LugDownPoint(
                fraction_pct=p.fraction_pct,
                target_speed_kmh=_finite(p.target_speed_kmh, f"{path}.points[{i}].target_speed_kmh") or 0.0,
                seconds=_seconds(p.seconds, f"{path}.points[{i}].seconds"),
            )
            for i, p in enumerate(message.points)
        ),
    )


def _photo_from_proto(message: pb.PhotoRef, path: str) -> PhotoRef:
    digest = message.sha256
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise MalformedRecord(f"{path}.sha256", f"expected 64 lower-case hex digits, got {digest!r}")
    return PhotoRef(sha256=digest, content_type=message.content_type, size_bytes=message.size_bytes,
                    item_code=message.item_code)  # fmt: skip


def verdict_from_proto(message: pb.Verdict) -> Verdict:
    """The verdict's items; its signed ``overall`` must be the one the items give (``Verdict.overall``)."""
    _at_most(len(message.items), MAX_VERDICT_ITEMS, "station_verdict.items")
    verdict = Verdict(
        items=tuple(
            VerdictItem(
                code=item.code,
                clause=item.clause,
                measured=_finite(_opt(item, "measured"), f"station_verdict.items[{i}].measured"),
                limit=_finite(_opt(item, "limit"), f"station_verdict.items[{i}].limit"),
                unit=item.unit,
                outcome=_enum_from(_OUTCOME, item.outcome, f"station_verdict.items[{i}].outcome"),
                note=item.note,
            )
            for i, item in enumerate(message.items)
        )
    )
    # A signed PASS over failing items must not turn into whatever the items say: refuse it.
    overall = _enum_from(_OUTCOME, message.overall, "station_verdict.overall")
    if overall is not verdict.overall:
        raise MalformedRecord(
            "station_verdict.overall",
            f"says {overall.value} but its items give {verdict.overall.value}",
        )
    return verdict


# ---------------------------------------------------------------- single enums, for other contracts
# The PDA contract (lane.proto) reuses these inspection.proto enums; it maps them here, not anew.


def purpose_from_proto(number: int, path: str = "purpose") -> InspectionPurpose:
    """UNSPECIFIED is a purpose not stated (older records, check-ins that do not say)."""
    return (
        InspectionPurpose.UNRECORDED if number == _PURPOSE_UNSPECIFIED else _enum_from(_PURPOSE, number, path)
    )


def purpose_to_proto(value: InspectionPurpose) -> pb.InspectionPurpose:
    return _PURPOSE.get(value, _PURPOSE_UNSPECIFIED)


def vehicle_class_to_proto(value: VehicleClass) -> pb.VehicleClass:
    return _VEHICLE_CLASS[value]


def fuel_to_proto(value: Fuel) -> pb.Fuel:
    return _FUEL[value]


def outcome_to_proto(value: Outcome) -> pb.Outcome:
    return _OUTCOME[value]

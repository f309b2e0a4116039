"""What one inspection record may hold: how many of each part, and the physical range of each value.

One table, read by the station and by the hub alike, so that a station never signs a record the hub
will refuse (a lane that accepted 13 axles signed a record that stayed a dead letter for ever):

- the station checks counts at check-in and on each PDA call, and every bench reading against its
  range as it arrives (a reading outside it aborts the visit naming bench, quantity and value);
- the hub checks the whole record after parsing it (``check_record``) and rejects it naming the
  field and the range.

Counts are far above any real vehicle or test and far below what would let one record tie up a hub
(80,000 check items in one 1 MiB record took 0.7 s to judge). Ranges are what a bench can physically
report, not what passes: a weak brake is a FAIL, a negative wheel load is a broken record. Both
ends are inclusive. The ranges are deliberately generous: refusing a real record costs a station
more than accepting an odd one, which the judging rules and post-review still see.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from inspection.errors import InspectionError
from inspection.measurements import (
    AsmRun,
    FreeAccelerationRun,
    LoadedSecond,
    LugDownRun,
    ObdCheck,
    TwoSpeedIdleRun,
)
from inspection.record import InspectionRecord
from inspection.vehicle import Vehicle


class Part(StrEnum):
    """A repeated part of a record, with a maximum count in ``MAX_COUNT``."""

    AXLES = "axles"
    LAMPS = "lamps"
    VISUAL_CHECKS = "visual_checks"  # every entry, corrections included
    PHOTOS = "photos"
    CURVE_SAMPLES = "curve_samples"  # per side of one brake run; spec 1.2: at most 1000
    GAS_READINGS = "gas_readings"  # per idle phase: ten minutes at one reading a second
    LOADED_SECONDS = "loaded_seconds"  # per ASM phase, lug-down scan or hold: ten minutes a second
    LOADED_PHASES = "loaded_phases"  # ASM phases, lug-down points
    RESTARTS = "restarts"  # restart reasons of one ASM phase
    K_VALUES = "k_values"
    VERDICT_ITEMS = "verdict_items"
    STORED_DTCS = "stored_dtcs"  # OBD service 03 codes
    READINESS_MONITORS = "readiness_monitors"  # OBD service 01 PID 01: 15 monitors exist


MAX_COUNT: dict[Part, int] = {
    Part.AXLES: 12,
    Part.LAMPS: 16,
    Part.VISUAL_CHECKS: 300,
    Part.PHOTOS: 32,
    Part.CURVE_SAMPLES: 1000,
    Part.GAS_READINGS: 600,
    Part.LOADED_SECONDS: 600,
    Part.LOADED_PHASES: 4,
    Part.RESTARTS: 20,
    Part.K_VALUES: 10,
    Part.VERDICT_ITEMS: 1000,
    Part.STORED_DTCS: 127,  # service 01 PID 01 counts them in 7 bits
    Part.READINESS_MONITORS: 32,
}

PHOTO_CONTENT_TYPES = frozenset({"image/jpeg"})
MAX_PHOTO_BYTES = 20_000_000  # a station may configure less (lane file ``max_photo_bytes``)
MAX_TEXT_CHARS = 500  # a check note, a correction reason


class Quantity(StrEnum):
    """A measured or declared value with a physical range in ``RANGES``."""

    LANE = "lane"
    WHEEL_LOAD_KG = "wheel_load_kg"
    BRAKE_FORCE_N = "brake_force_n"
    DRAG_FORCE_N = "drag_force_n"
    CURVE_SAMPLE_N = "curve_sample_n"
    SAMPLE_RATE_HZ = "sample_rate_hz"
    LUMINOUS_INTENSITY_CD = "luminous_intensity_cd"
    BEAM_OFFSET_MM = "beam_offset_mm"
    LAMP_HEIGHT_MM = "lamp_height_mm"
    READING_TIME_S = "reading_time_s"
    HC_PPM = "hc_ppm"
    CO_PCT = "co_pct"
    CO2_PCT = "co2_pct"
    O2_PCT = "o2_pct"
    NO_PPM = "no_ppm"
    LAMBDA = "lambda"
    ENGINE_SPEED_RPM = "engine_speed_rpm"
    OIL_TEMP_C = "oil_temp_c"
    OPACITY_K_PER_M = "opacity_k_per_m"
    PHOTO_BYTES = "photo_bytes"
    SEATS = "seats"
    CURB_MASS_KG = "curb_mass_kg"
    MAX_TOTAL_MASS_KG = "max_total_mass_kg"
    AXLE_COUNT = "axle_count"
    RATED_ENGINE_SPEED_RPM = "rated_engine_speed_rpm"
    DTC_COUNT = "dtc_count"
    RATED_POWER_KW = "rated_power_kw"
    ROLLER_SPEED_KMH = "roller_speed_kmh"
    ROLLER_POWER_KW = "roller_power_kw"
    REFERENCE_MASS_KG = "reference_mass_kg"
    AMBIENT_TEMPERATURE_C = "ambient_temperature_c"
    RELATIVE_HUMIDITY_PCT = "relative_humidity_pct"
    AMBIENT_PRESSURE_KPA = "ambient_pressure_kpa"


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float
    unit: str

    def __contains__(self, value: float) -> bool:
        return math.isfinite(value) and self.low <= value <= self.high

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{_number(self.low)}..{_number(self.high)}{unit}"


# Why each bound: a wheel of a 49 t road train carries well under 15 t; a brake force cannot exceed
# about 1.2 x load x g of the heaviest wheel (the rules call more than that implausible); curve
# samples may dip a little below zero from the load cell's zero drift; 10 m screen offsets beyond
# 2 m miss the screen; analyser ranges follow spec 3 (HC 0-9999 ppm, CO 0-14 %, CO2 0-18 %, O2
# 0-25 %, NO 0-5000 ppm), opacity meters read K up to 16 m^-1 at N = 99.9 %.
RANGES: dict[Quantity, Range] = {
    Quantity.LANE: Range(1, 99, ""),
    Quantity.WHEEL_LOAD_KG: Range(0, 15_000, "kg"),
    Quantity.BRAKE_FORCE_N: Range(0, 180_000, "N"),
    Quantity.DRAG_FORCE_N: Range(0, 180_000, "N"),
    Quantity.CURVE_SAMPLE_N: Range(-1_000, 180_000, "N"),
    Quantity.SAMPLE_RATE_HZ: Range(1, 1_000, "Hz"),
    Quantity.LUMINOUS_INTENSITY_CD: Range(0, 150_000, "cd"),
    Quantity.BEAM_OFFSET_MM: Range(-2_000, 2_000, "mm"),
    Quantity.LAMP_HEIGHT_MM: Range(0, 3_000, "mm"),
    Quantity.READING_TIME_S: Range(0, 3_600, "s"),
    Quantity.HC_PPM: Range(0, 10_000, "ppm"),
    Quantity.CO_PCT: Range(0, 15, "%"),
    Quantity.CO2_PCT: Range(0, 20, "%"),
    Quantity.O2_PCT: Range(0, 25, "%"),
    Quantity.NO_PPM: Range(0, 5_000, "ppm"),
    Quantity.LAMBDA: Range(0, 10, ""),
    Quantity.ENGINE_SPEED_RPM: Range(0, 12_000, "r/min"),
    Quantity.OIL_TEMP_C: Range(-40, 200, "°C"),
    Quantity.OPACITY_K_PER_M: Range(0, 16, "m^-1"),
    Quantity.PHOTO_BYTES: Range(1, MAX_PHOTO_BYTES, "bytes"),
    Quantity.SEATS: Range(1, 100, ""),
    Quantity.CURB_MASS_KG: Range(100, 60_000, "kg"),
    Quantity.MAX_TOTAL_MASS_KG: Range(100, 100_000, "kg"),
    Quantity.AXLE_COUNT: Range(1, MAX_COUNT[Part.AXLES], ""),
    Quantity.RATED_ENGINE_SPEED_RPM: Range(500, 12_000, "r/min"),
    Quantity.DTC_COUNT: Range(0, 127, ""),  # 7 bits of service 01 PID 01 byte A
    # Spec 5: the dynamometer faults above 130 km/h; an eddy-current absorber for heavy vehicles
    # takes a few hundred kW; the ASM's reference mass is a curb mass + 100 kg.
    Quantity.RATED_POWER_KW: Range(1, 2_000, "kW"),
    Quantity.ROLLER_SPEED_KMH: Range(0, 140, "km/h"),
    Quantity.ROLLER_POWER_KW: Range(0, 1_000, "kW"),
    Quantity.REFERENCE_MASS_KG: Range(100, 60_100, "kg"),
    Quantity.AMBIENT_TEMPERATURE_C: Range(-40, 60, "°C"),
    Quantity.RELATIVE_HUMIDITY_PCT: Range(0, 100, "%"),
    Quantity.AMBIENT_PRESSURE_KPA: Range(50, 110, "kPa"),
}


# Which field of each measurement holds which quantity, with the words a person reads for it.
# Both the record check below and the station's bench-reading check walk these tables, so a new
# measured field gets its range in one place. Brake curves are checked by their extremes.
FieldRange = tuple[Quantity, str, str]  # quantity, attribute name, label

WHEEL_LOAD_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.WHEEL_LOAD_KG, "left_load_kg", "left wheel load"),
    (Quantity.WHEEL_LOAD_KG, "right_load_kg", "right wheel load"),
)
BRAKE_TEST_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.BRAKE_FORCE_N, "left_max_n", "left force"),
    (Quantity.BRAKE_FORCE_N, "right_max_n", "right force"),
    (Quantity.DRAG_FORCE_N, "left_drag_n", "left drag"),
    (Quantity.DRAG_FORCE_N, "right_drag_n", "right drag"),
)
LAMP_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.LUMINOUS_INTENSITY_CD, "intensity_cd", "intensity"),
    (Quantity.BEAM_OFFSET_MM, "vertical_mm", "vertical position"),
    (Quantity.BEAM_OFFSET_MM, "horizontal_mm", "horizontal offset"),
    (Quantity.LAMP_HEIGHT_MM, "lamp_height_mm", "lamp height"),
)
GAS_READING_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.READING_TIME_S, "t_s", "time"),
    (Quantity.HC_PPM, "hc_ppm", "HC"),
    (Quantity.CO_PCT, "co_pct", "CO"),
    (Quantity.CO2_PCT, "co2_pct", "CO2"),
    (Quantity.O2_PCT, "o2_pct", "O2"),
    (Quantity.NO_PPM, "no_ppm", "NO"),
    (Quantity.LAMBDA, "lambda_", "lambda"),
    (Quantity.ENGINE_SPEED_RPM, "rpm", "engine speed"),
    (Quantity.OIL_TEMP_C, "oil_temp_c", "oil temperature"),
)

OBD_FIELDS: tuple[FieldRange, ...] = ((Quantity.DTC_COUNT, "dtc_count", "DTC count"),)
# SAE J2012 code: system letter, one digit 0-3, three hex digits ("P0420", "U0100").
DTC_CODE = re.compile(r"[PCBU][0-3][0-9A-F]{3}")
OBD_TEXT_CHARS = 40  # protocol, VIN as read: an adapter's short strings

LOADED_SECOND_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.READING_TIME_S, "t_s", "time"),
    (Quantity.ROLLER_SPEED_KMH, "speed_kmh", "roller speed"),
    (Quantity.ROLLER_POWER_KW, "power_kw", "roller power"),
    (Quantity.ENGINE_SPEED_RPM, "rpm", "engine speed"),
    (Quantity.HC_PPM, "hc_ppm", "HC"),
    (Quantity.CO_PCT, "co_pct", "CO"),
    (Quantity.CO2_PCT, "co2_pct", "CO2"),
    (Quantity.O2_PCT, "o2_pct", "O2"),
    (Quantity.NO_PPM, "no_ppm", "NO"),
    (Quantity.OPACITY_K_PER_M, "k_per_m", "opacity K"),
)
AMBIENT_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.AMBIENT_TEMPERATURE_C, "temperature_c", "ambient temperature"),
    (Quantity.RELATIVE_HUMIDITY_PCT, "relative_humidity_pct", "relative humidity"),
    (Quantity.AMBIENT_PRESSURE_KPA, "pressure_kpa", "ambient pressure"),
)
ASM_PHASE_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.ROLLER_POWER_KW, "setpoint_kw", "absorbed power setpoint"),
    (Quantity.ROLLER_POWER_KW, "parasitic_kw", "parasitic loss"),
)
ASM_RUN_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.REFERENCE_MASS_KG, "reference_mass_kg", "reference mass"),
)
LUG_DOWN_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.RATED_POWER_KW, "rated_power_kw", "rated power"),
    (Quantity.ROLLER_SPEED_KMH, "vel_max_hp_kmh", "VelMaxHP"),
    (Quantity.ROLLER_POWER_KW, "max_wheel_power_kw", "maximum wheel power"),
    (Quantity.ENGINE_SPEED_RPM, "rpm_at_max_power", "engine speed at maximum power"),
)
LUG_DOWN_POINT_FIELDS: tuple[FieldRange, ...] = (
    (Quantity.ROLLER_SPEED_KMH, "target_speed_kmh", "target speed"),
)


def loaded_values(run: AsmRun | LugDownRun) -> Iterator[tuple[Quantity, float | None, str, str]]:
    """Every ranged value of a loaded run: ``(quantity, value, path, label)``; counts checked on the way."""

    def seconds(items: Sequence[LoadedSecond], at: str) -> Iterator[tuple[Quantity, float | None, str, str]]:
        check_count(Part.LOADED_SECONDS, len(items), at)
        for j, second in enumerate(items):
            for quantity, value, attribute, label in ranged_values(second, LOADED_SECOND_FIELDS):
                yield quantity, value, f"{at}[{j}].{attribute}", f"{label} at t = {second.t_s:g} s"

    if isinstance(run, AsmRun):
        for quantity, value, attribute, label in ranged_values(run, ASM_RUN_FIELDS):
            yield quantity, value, f"emission.asm.{attribute}", label
        for quantity, value, attribute, label in ranged_values(run.ambient, AMBIENT_FIELDS):
            yield quantity, value, f"emission.asm.ambient.{attribute}", label
        check_count(Part.LOADED_PHASES, len(run.phases), "emission.asm.phases")
        for i, phase in enumerate(run.phases):
            at = f"emission.asm.phases[{i}]"
            check_count(Part.RESTARTS, len(phase.restarts), f"{at}.restarts")
            for text in phase.restarts:
                check_text(text, f"{at}.restarts")
            for quantity, value, attribute, label in ranged_values(phase, ASM_PHASE_FIELDS):
                yield quantity, value, f"{at}.{attribute}", f"{phase.mode.value} {label}"
            yield from seconds(phase.seconds, f"{at}.seconds")
        return
    for quantity, value, attribute, label in ranged_values(run, LUG_DOWN_FIELDS):
        yield quantity, value, f"emission.lug_down.{attribute}", label
    yield from seconds(run.scan, "emission.lug_down.scan")
    check_count(Part.LOADED_PHASES, len(run.points), "emission.lug_down.points")
    for i, point in enumerate(run.points):
        at = f"emission.lug_down.points[{i}]"
        for quantity, value, attribute, label in ranged_values(point, LUG_DOWN_POINT_FIELDS):
            yield quantity, value, f"{at}.{attribute}", f"{point.fraction_pct} % {label}"
        yield from seconds(point.seconds, f"{at}.seconds")


def ranged_values(
    measurement: object, fields: tuple[FieldRange, ...]
) -> Iterator[tuple[Quantity, float | None, str, str]]:
    """``(quantity, value, attribute, label)`` for each field of ``measurement`` in ``fields``."""
    for quantity, attribute, label in fields:
        yield quantity, getattr(measurement, attribute), attribute, label


class RecordOutOfLimits(InspectionError, ValueError):
    """A record, or a part of one, beyond the table: ``path`` names the field, ``reason`` the limit."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def check_count(part: Part, count: int, path: str | None = None) -> None:
    """Refuse ``count`` entries of ``part`` when the table allows fewer."""
    limit = MAX_COUNT[part]
    if count > limit:
        raise RecordOutOfLimits(path or part.value, f"{count} entries, at most {limit} allowed")


def check_value(quantity: Quantity, value: float | None, path: str | None = None) -> None:
    """Refuse a value outside the physical range of ``quantity``; ``None`` (not available) passes."""
    if value is None:
        return
    allowed = RANGES[quantity]
    if value not in allowed:
        raise RecordOutOfLimits(
            path or quantity.value, f"{_number(value)} is outside the range {allowed} of {quantity.value}"
        )


def check_text(text: str, path: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise RecordOutOfLimits(path, f"{len(text)} characters, at most {MAX_TEXT_CHARS} allowed")


def check_photo(content_type: str, size_bytes: int, path: str = "photo") -> None:
    if content_type not in PHOTO_CONTENT_TYPES:
        raise RecordOutOfLimits(
            f"{path}.content_type", f"{content_type!r} is not one of {sorted(PHOTO_CONTENT_TYPES)}"
        )
    check_value(Quantity.PHOTO_BYTES, size_bytes, f"{path}.size_bytes")


def check_vehicle(vehicle: Vehicle, path: str = "vehicle") -> None:
    """What check-in must refuse before a visit starts: a vehicle no record of ours could hold."""
    check_value(Quantity.SEATS, vehicle.seats, f"{path}.seats")
    check_value(Quantity.CURB_MASS_KG, vehicle.curb_mass_kg, f"{path}.curb_mass_kg")
    check_value(Quantity.MAX_TOTAL_MASS_KG, vehicle.max_total_mass_kg, f"{path}.max_total_mass_kg")
    check_value(Quantity.AXLE_COUNT, vehicle.axle_count, f"{path}.axle_count")
    for axle in vehicle.parking_brake_axles:
        if not 1 <= axle <= vehicle.axle_count:
            raise RecordOutOfLimits(
                f"{path}.parking_brake_axles", f"axle {axle} is not one of 1..{vehicle.axle_count}"
            )
    check_value(
        Quantity.RATED_ENGINE_SPEED_RPM, vehicle.rated_engine_speed_rpm, f"{path}.rated_engine_speed_rpm"
    )
    for axle in vehicle.steered_axles or ():
        if not 1 <= axle <= vehicle.axle_count:
            raise RecordOutOfLimits(
                f"{path}.steered_axles", f"axle {axle} is not one of 1..{vehicle.axle_count}"
            )
    check_value(Quantity.RATED_POWER_KW, vehicle.rated_power_kw, f"{path}.rated_power_kw")


def check_obd(check: ObdCheck, path: str = "obd") -> None:
    """An OBD reading a record can hold: counts, the DTC count's range, codes in SAE J2012 form."""
    check_count(Part.STORED_DTCS, len(check.stored_dtcs), f"{path}.stored_dtcs")
    check_count(Part.READINESS_MONITORS, len(check.readiness), f"{path}.readiness")
    for quantity, value, attribute, _ in ranged_values(check, OBD_FIELDS):
        check_value(quantity, value, f"{path}.{attribute}")
    for i, code in enumerate(check.stored_dtcs):
        if not DTC_CODE.fullmatch(code):
            raise RecordOutOfLimits(f"{path}.stored_dtcs[{i}]", f"{code!r} is not a DTC (e.g. P0420)")
    for name, text in (("protocol", check.protocol), ("vin", check.vin or "")):
        if len(text) > OBD_TEXT_CHARS:
            raise RecordOutOfLimits(
                f"{path}.{name}", f"{len(text)} characters, at most {OBD_TEXT_CHARS} allowed"
            )
    check_text(check.vin_note, f"{path}.vin_note")


def check_record(record: InspectionRecord) -> None:
    """Every count and value of ``record`` within the table; raises ``RecordOutOfLimits`` on the first."""
    check_value(Quantity.LANE, record.lane, "lane")
    check_vehicle(record.vehicle)
    check_count(Part.AXLES, len(record.axles))
    check_count(Part.LAMPS, len(record.lamps))
    check_count(Part.VISUAL_CHECKS, len(record.visual_checks))
    check_count(Part.PHOTOS, len(record.photos))
    for i, axle in enumerate(record.axles):
        at = f"axles[{i}]"
        for quantity, value, attribute, _ in ranged_values(axle, WHEEL_LOAD_FIELDS):
            check_value(quantity, value, f"{at}.{attribute}")
        for name, test in (("service", axle.service), ("parking", axle.parking)):
            if test is None:
                continue
            run = f"{at}.{name}"
            for quantity, value, attribute, _ in ranged_values(test, BRAKE_TEST_FIELDS):
                check_value(quantity, value, f"{run}.{attribute}")
            if test.curve is not None:
                curve = test.curve
                check_value(Quantity.SAMPLE_RATE_HZ, curve.sample_rate_hz, f"{run}.curve.sample_rate_hz")
                extremes = curve.extremes
                for side, samples, lowest, highest in (
                    ("left_n", curve.left_n, extremes.left_min, extremes.left_max),
                    ("right_n", curve.right_n, extremes.right_min, extremes.right_max),
                ):
                    check_count(Part.CURVE_SAMPLES, len(samples), f"{run}.curve.{side}")
                    # the two samples a range check needs: not 1000 calls for a 1000-sample curve
                    for sample in (lowest, highest):
                        if sample is not None:
                            check_value(Quantity.CURVE_SAMPLE_N, sample, f"{run}.curve.{side}")
    for i, lamp in enumerate(record.lamps):
        for quantity, value, attribute, _ in ranged_values(lamp, LAMP_FIELDS):
            check_value(quantity, value, f"lamps[{i}].{attribute}")
    emission = record.emission
    if isinstance(emission, TwoSpeedIdleRun):
        for phase, readings in (("high_idle", emission.high_idle), ("low_idle", emission.low_idle)):
            at = f"emission.{phase}"
            check_count(Part.GAS_READINGS, len(readings), at)
            for j, reading in enumerate(readings):
                for quantity, value, _, _ in ranged_values(reading, GAS_READING_FIELDS):
                    check_value(quantity, value, f"{at}[{j}].{quantity.value}")
    elif isinstance(emission, FreeAccelerationRun):
        check_count(Part.K_VALUES, len(emission.k_per_m), "emission.k_per_m")
        for j, k in enumerate(emission.k_per_m):
            check_value(Quantity.OPACITY_K_PER_M, k, f"emission.k_per_m[{j}]")
    elif emission is not None:
        for quantity, value, path, _ in loaded_values(emission):
            check_value(quantity, value, path)
    for i, check in enumerate(record.visual_checks):
        check_text(check.note, f"visual_checks[{i}].note")
        check_text(check.correction_reason, f"visual_checks[{i}].correction_reason")
    for i, photo in enumerate(record.photos):
        check_photo(photo.content_type, photo.size_bytes, f"photos[{i}]")
    if record.obd is not None:
        check_obd(record.obd)
    if record.station_verdict is not None:
        check_count(Part.VERDICT_ITEMS, len(record.station_verdict.items), "station_verdict.items")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)

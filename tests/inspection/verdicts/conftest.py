"""Builders for the verdict tests: a record from a few overrides, with sensible defaults."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from inspection import (
    AxleBrake,
    Beam,
    BrakeCurve,
    BrakeKind,
    FreeAccelerationRun,
    Fuel,
    GasReading,
    InspectionRecord,
    LampMeasurement,
    LampSystem,
    Side,
    TwoSpeedIdleRun,
    Vehicle,
    VehicleClass,
    VehicleUse,
)
from inspection.measurements import BrakeTest

INSPECTED_AT = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # 10:00 in China

BASE_VEHICLE = Vehicle(
    vin="LFV2A21K0NA000001",
    plate="渝A12345",
    registration_province="50",
    vehicle_class=VehicleClass.M1,
    fuel=Fuel.PETROL,
    seats=5,
    use=VehicleUse.NON_OPERATING,
    registration_date=date(2020, 5, 1),
    curb_mass_kg=1350,
    max_total_mass_kg=1800,
    axle_count=2,
)

_GAS_DEFAULTS = {
    "hc_ppm": 20.0,
    "co_pct": 0.1,
    "co2_pct": 14.5,
    "o2_pct": 0.3,
    "no_ppm": 50.0,
    "lambda_": 1.0,
    "rpm": 2500.0,
    "oil_temp_c": 90.0,
    "low_flow": False,
    "dilution": False,
}


def vehicle_from(overrides: Mapping[str, Any]) -> Vehicle:
    changes = dict(overrides)
    for name, kind in (("vehicle_class", VehicleClass), ("fuel", Fuel), ("lamp_system", LampSystem)):
        if name in changes:
            changes[name] = kind(changes[name])
    if "parking_brake_axles" in changes:
        changes["parking_brake_axles"] = tuple(changes["parking_brake_axles"])
    return replace(BASE_VEHICLE, **changes)


def _maybe(value: Any) -> float | None:
    return None if value == "none" else float(value)


def _pair(values: Sequence[Any]) -> tuple[float | None, float | None]:
    return _maybe(values[0]), _maybe(values[1])


def axle_from(spec: Mapping[str, Any]) -> AxleBrake:
    left_load, right_load = _pair(spec["loads_kg"])
    left, right = _pair(spec["service_n"])
    drag_left, drag_right = _pair(spec.get("drag_n", [0, 0]))
    slip_left, slip_right = spec.get("slip", [False, False])
    curve = None
    if "curve_left" in spec:
        curve = BrakeCurve(100, tuple(spec["curve_left"]), tuple(spec["curve_right"]))
    service = BrakeTest(BrakeKind.SERVICE, left, right, drag_left, drag_right, slip_left, slip_right, curve)
    parking = None
    if "parking_n" in spec:
        p_left, p_right = _pair(spec["parking_n"])
        parking = BrakeTest(BrakeKind.PARKING, p_left, p_right, 0.0, 0.0, False, False, None)
    return AxleBrake(spec["axle"], left_load, right_load, service, parking)


def lamp_from(spec: Mapping[str, Any]) -> LampMeasurement:
    beam = Beam(spec["beam"])
    return LampMeasurement(
        side=Side(spec["side"]),
        beam=beam,
        intensity_cd=spec.get("intensity_cd", 20000 if beam is Beam.HIGH else 0),
        vertical_mm=spec.get("vertical_mm", 630 if beam is Beam.HIGH else 560),
        horizontal_mm=spec.get("horizontal_mm", 0),
        lamp_height_mm=spec.get("lamp_height_mm", 700),
    )


def gas_phase(overrides: Mapping[str, Any], default_seconds: int = 5) -> tuple[GasReading, ...]:
    """Readings one second apart; an override is a value for every second or a list, one per second."""
    seconds = max([len(v) for v in overrides.values() if isinstance(v, list)], default=default_seconds)
    readings = []
    for i in range(seconds):
        values = {**_GAS_DEFAULTS}
        for name, value in overrides.items():
            values[name] = value[i] if isinstance(value, list) else value
        readings.append(GasReading(t_s=float(i + 1), **values))
    return tuple(readings)


def tsi_from(spec: Mapping[str, Any]) -> TwoSpeedIdleRun:
    return TwoSpeedIdleRun(
        spec["limit_set"], gas_phase(spec.get("high_idle", {})), gas_phase(spec.get("low_idle", {}))
    )


def record_from(case: Mapping[str, Any]) -> InspectionRecord:
    emission = None
    if "tsi" in case:
        emission = tsi_from(case["tsi"])
    elif "free_acceleration" in case:
        spec = case["free_acceleration"]
        emission = FreeAccelerationRun(spec["limit_set"], tuple(spec["k_per_m"]))
    started = case.get("started_at", INSPECTED_AT)
    return InspectionRecord(
        record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tongjian-test/verdicts/{case.get('name', '')}"),
        station_id="50-0001",
        lane=1,
        vehicle=vehicle_from(case.get("vehicle", {})),
        started_at=started,
        finished_at=started,
        axles=tuple(axle_from(a) for a in case.get("axles", [])),
        lamps=tuple(lamp_from(lamp) for lamp in case.get("lamps", [])),
        emission=emission,
    )

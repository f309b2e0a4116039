"""One declaration of the vehicle's fields as text: every field of ``Vehicle`` once, both ways."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from inspection import Fuel, LampSystem, Vehicle, VehicleClass, VehicleUse
from inspection.vehicle_fields import (
    VEHICLE_FIELDS,
    FieldValueError,
    vehicle_from_texts,
    vehicle_to_arguments,
)

CAR = Vehicle(
    vin="LSVAU2180N2183294", plate="渝A12345", registration_province="50", vehicle_class=VehicleClass.N3,
    fuel=Fuel.DIESEL, seats=2, use=VehicleUse.OPERATING, registration_date=date(2019, 3, 4),
    curb_mass_kg=9000, max_total_mass_kg=25000, axle_count=3, parking_brake_axles=(2, 3),
    lamp_system=LampSystem.FOUR_LAMP, articulated=True, high_beam_separately_adjustable=True, van=True,
    rated_engine_speed_rpm=3600,
)  # fmt: skip


def test_every_vehicle_field_is_declared_exactly_once() -> None:
    declared = [f.attribute for f in VEHICLE_FIELDS]
    assert sorted(declared) == sorted(f.name for f in dataclasses.fields(Vehicle))
    assert len({f.option for f in VEHICLE_FIELDS}) == len(VEHICLE_FIELDS)


def test_required_and_defaults_come_from_the_vehicle_class() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Vehicle)}
    for spec in VEHICLE_FIELDS:
        if spec.assumed is None:
            assert spec.required is (defaults[spec.attribute] is dataclasses.MISSING)
        else:
            assert not spec.required and spec.format(spec.default) == spec.assumed


@pytest.mark.parametrize(
    "vehicle", [CAR, dataclasses.replace(CAR, articulated=False, rated_engine_speed_rpm=None)]
)
def test_arguments_parse_back_to_the_same_vehicle(vehicle: Vehicle) -> None:
    arguments = vehicle_to_arguments(vehicle)
    texts: dict[str, str | bool] = {}
    i = 0
    while i < len(arguments):
        spec = next(f for f in VEHICLE_FIELDS if f.option == arguments[i])
        if spec.is_flag:
            texts[spec.attribute], i = True, i + 1
        else:
            texts[spec.attribute], i = arguments[i + 1], i + 2
    assert vehicle_from_texts(texts) == vehicle


def test_a_bad_value_names_its_option() -> None:
    texts = {f.attribute: f.format(getattr(CAR, f.attribute)) for f in VEHICLE_FIELDS if not f.is_flag}
    with pytest.raises(FieldValueError) as caught:
        vehicle_from_texts({**texts, "seats": "many"})
    assert caught.value.option == "--seats" and "whole number" in caught.value.reason

"""The vehicle's fields as text, declared once: the PDA check-in arguments and the fleet printer both use it.

``VEHICLE_FIELDS`` has one entry per field of ``Vehicle``: its command-line option, what kind of text
it takes, and a help line. Whether it is required and its default come from ``Vehicle`` itself (``assumed``: what a
check-in takes for two fields the class requires, use and axle count), so
a new field of the vehicle is a new row here and nothing else (a test checks every field has one).

    vehicle_to_arguments(vehicle)   ->  ["--vin", "LSV...", "--plate", "渝A12345", ..., "--van"]
    vehicle_from_texts({"vin": "LSV...", "seats": "5", "van": True, ...})  ->  Vehicle

Parsing says what was wrong with which option (``FieldValueError``); the domain rules (VIN check
digit, plate, ranges) stay where they are and run where the vehicle is checked in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import Any

from inspection.errors import InspectionError
from inspection.vehicle import Fuel, LampSystem, Vehicle, VehicleClass, VehicleUse

# Counts and masses are whole numbers a record can carry (they travel as uint32).
MAX_WHOLE_NUMBER = 2**32 - 1


class FieldValueError(InspectionError, ValueError):
    """The text given for ``option`` is not a value of its field: ``reason`` says why."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


class TextKind(Enum):
    TEXT = "text"
    CHOICE = "choice"  # one of an enum's values
    DATE = "date"  # YYYY-MM-DD
    WHOLE_NUMBER = "whole number"
    AXLES = "axles"  # comma-separated axle numbers, 1 = front
    FLAG = "flag"  # present or not


_VEHICLE_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Vehicle)}


@dataclass(frozen=True, slots=True)
class VehicleField:
    attribute: str  # the field of Vehicle
    option: str  # the command-line option
    kind: TextKind
    help: str = ""
    choices: type[StrEnum] | None = None  # for CHOICE
    # What a check-in assumes when the option is not given, for a field Vehicle requires (as text).
    assumed: str | None = None

    @property
    def required(self) -> bool:
        return _VEHICLE_FIELD_DEFAULTS[self.attribute] is dataclasses.MISSING and self.assumed is None

    @property
    def default(self) -> Any:
        if self.assumed is not None:
            return self.parse(self.assumed)
        return None if self.required else _VEHICLE_FIELD_DEFAULTS[self.attribute]

    @property
    def is_flag(self) -> bool:
        return self.kind is TextKind.FLAG

    def parse(self, text: str) -> object:
        """The field's value from its text; ``FieldValueError`` naming the option if it is not one."""
        if self.kind is TextKind.TEXT:
            return text
        if self.kind is TextKind.CHOICE:
            assert self.choices is not None  # every CHOICE row names its enum (see VEHICLE_FIELDS)
            try:
                return self.choices(text)
            except ValueError:
                allowed = ", ".join(m.value for m in self.choices)
                raise FieldValueError(self.option, f"{text!r} is not one of {allowed}") from None
        if self.kind is TextKind.DATE:
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise FieldValueError(self.option, f"{text!r} is not a date (YYYY-MM-DD)") from None
        if self.kind is TextKind.WHOLE_NUMBER:
            return self._whole_number(text)
        if self.kind is TextKind.AXLES:
            return tuple(self._whole_number(part) for part in text.split(",")) if text else ()
        raise FieldValueError(self.option, "a flag takes no value")

    def _whole_number(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise FieldValueError(self.option, f"{text!r} is not a whole number") from None
        if not 0 <= value <= MAX_WHOLE_NUMBER:
            raise FieldValueError(self.option, f"{value} is outside 0..{MAX_WHOLE_NUMBER}")
        return value

    def format(self, value: object) -> str:
        """The text that ``parse`` reads back as ``value``."""
        if isinstance(value, StrEnum):
            return value.value
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return str(value)


VEHICLE_FIELDS: tuple[VehicleField, ...] = (
    VehicleField("vin", "--vin", TextKind.TEXT),
    VehicleField("plate", "--plate", TextKind.TEXT, "e.g. 渝A12345"),
    VehicleField("registration_province", "--province", TextKind.TEXT, "registration province, GB/T 2260 code (50)"),
    VehicleField("vehicle_class", "--class", TextKind.CHOICE, choices=VehicleClass),
    VehicleField("fuel", "--fuel", TextKind.CHOICE, choices=Fuel),
    VehicleField("registration_date", "--registered", TextKind.DATE, "registration date, YYYY-MM-DD"),
    VehicleField("seats", "--seats", TextKind.WHOLE_NUMBER),
    VehicleField("use", "--use", TextKind.CHOICE, choices=VehicleUse, assumed=VehicleUse.NON_OPERATING.value),
    VehicleField("curb_mass_kg", "--curb-mass-kg", TextKind.WHOLE_NUMBER),
    VehicleField("max_total_mass_kg", "--max-mass-kg", TextKind.WHOLE_NUMBER),
    VehicleField("axle_count", "--axles", TextKind.WHOLE_NUMBER, assumed="2"),
    VehicleField("parking_brake_axles", "--parking-axles", TextKind.AXLES, "comma-separated, 1 = front"),
    VehicleField("lamp_system", "--lamps", TextKind.CHOICE, choices=LampSystem),
    VehicleField("articulated", "--articulated", TextKind.FLAG),
    VehicleField("van", "--van", TextKind.FLAG, "面包车"),
    VehicleField("high_beam_separately_adjustable", "--high-beam-separately-adjustable", TextKind.FLAG),
    VehicleField("rated_engine_speed_rpm", "--rated-rpm", TextKind.WHOLE_NUMBER, "rated engine speed (diesels)"),
    VehicleField("steered_axles", "--steered-axles", TextKind.AXLES, "comma-separated, 1 = front (brake rules: front axles)"),
    VehicleField("has_obd", "--obd", TextKind.FLAG, "has an OBD port: the emission inspection reads it"),
    VehicleField("full_time_awd", "--full-time-awd", TextKind.FLAG, "cannot go on a two-roller dynamometer"),
    VehicleField("rated_power_kw", "--rated-power-kw", TextKind.WHOLE_NUMBER, "rated engine power (lug-down)"),
)  # fmt: skip


def vehicle_to_arguments(vehicle: Vehicle) -> list[str]:
    """The options that describe ``vehicle``: each as ``[option, text]``, a flag alone when set."""
    arguments: list[str] = []
    for spec in VEHICLE_FIELDS:
        value = getattr(vehicle, spec.attribute)
        if spec.is_flag:
            arguments += [spec.option] if value else []
        elif value is not None:
            arguments += [spec.option, spec.format(value)]
    return arguments


def vehicle_from_values(values: Mapping[str, object]) -> Vehicle:
    """A vehicle from parsed values by attribute; a field absent or None takes Vehicle's default."""
    # Any: each value is of its field's type by construction (parse, or the caller's Vehicle values).
    given: dict[str, Any] = {name: value for name, value in values.items() if value is not None}
    for spec in VEHICLE_FIELDS:
        if spec.attribute not in given and spec.assumed is not None:
            given[spec.attribute] = spec.default
        elif spec.required and spec.attribute not in given:
            raise FieldValueError(spec.option, "missing")
    return Vehicle(
        **{spec.attribute: given[spec.attribute] for spec in VEHICLE_FIELDS if spec.attribute in given}
    )


def vehicle_from_texts(texts: Mapping[str, str | bool | None]) -> Vehicle:
    """A vehicle from texts by attribute (a flag's value is True or absent)."""
    values: dict[str, object] = {}
    for spec in VEHICLE_FIELDS:
        text = texts.get(spec.attribute)
        if text is None:
            continue
        values[spec.attribute] = bool(text) if spec.is_flag else spec.parse(str(text))
    return vehicle_from_values(values)

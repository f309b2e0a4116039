"""Chassis dynamometer device profiles: where a vendor keeps each quantity of spec 5.

As for the brake tester (``equipment.rbt_profile``), addresses, data types, scales and word order
are configuration; the shipped ``equipment/profiles/dyn-default.toml`` is the table of spec 5::

    name = "dyn-default"
    word_order = "high_first"          # default for 32-bit registers
    [registers]
    SPEED = { address = 10, type = "uint16", scale = 0.01 }   # raw x scale = km/h
    FORCE = { address = 11, type = "int32" }                  # kind = "holding" unless "input"

Every quantity of ``DynQuantity`` is required. Refused when loaded, as ``ProfileError(file, key,
reason)``: a file that is not TOML, a missing or unknown quantity or key, a bad type / kind / word
order / scale / address, a register the host writes (COMMAND, setpoints, the driver's aid) or STATUS
kept anywhere but in a holding register, a code or count with a scale, and two quantities sharing
a register.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic import dataclasses as pydantic_dataclasses

from equipment.errors import ProfileError
from equipment.profile_files import parse_profile_toml, read_profile_text
from equipment.register_codec import DataType, RegisterKind, RegisterSpec, WordOrder

SHIPPED = {"dyn-default": "dyn-default.toml"}


class DynQuantity(StrEnum):
    STATUS = "STATUS"
    COMMAND = "COMMAND"
    FAULT_CODE = "FAULT_CODE"
    TEST_COUNTER = "TEST_COUNTER"
    SETPOINT_POWER = "SETPOINT_POWER"
    SETPOINT_FORCE = "SETPOINT_FORCE"
    SETPOINT_SPEED = "SETPOINT_SPEED"
    BASE_INERTIA = "BASE_INERTIA"
    PARASITIC_25 = "PARASITIC_25"
    PARASITIC_40 = "PARASITIC_40"
    SPEED = "SPEED"
    FORCE = "FORCE"
    POWER = "POWER"
    DISTANCE = "DISTANCE"
    AID_SPEED = "AID_SPEED"
    AID_PEDAL = "AID_PEDAL"


Q = DynQuantity
# Bit fields, commands, codes and counts: whole numbers in the spec's own terms (scale 1).
INTEGER_QUANTITIES = frozenset({Q.STATUS, Q.COMMAND, Q.FAULT_CODE, Q.TEST_COUNTER, Q.AID_PEDAL})
# The host writes these (and STATUS is polled with them): holding registers in every profile.
WRITTEN = frozenset(
    {Q.COMMAND, Q.SETPOINT_POWER, Q.SETPOINT_FORCE, Q.SETPOINT_SPEED, Q.AID_SPEED, Q.AID_PEDAL}
)
HOLDING_ONLY = WRITTEN | {Q.STATUS}

_SCHEMA = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@pydantic_dataclasses.dataclass(config=_SCHEMA)
class _Entry:
    address: Annotated[int, Strict(), Field(ge=0, le=0xFFFF)]
    type: DataType
    kind: RegisterKind = RegisterKind.HOLDING
    scale: Annotated[float, Strict(), Field(gt=0)] = 1.0
    word_order: WordOrder | None = None


@pydantic_dataclasses.dataclass(config=_SCHEMA)
class _File:
    registers: dict[DynQuantity, _Entry]
    name: Annotated[str, Strict(), Field(min_length=1)] | None = None
    description: Annotated[str, Strict()] = ""
    word_order: WordOrder = WordOrder.HIGH_FIRST


_FILE = TypeAdapter(_File)


@dataclass(frozen=True, slots=True)
class DynProfile:
    name: str
    source: str
    registers: Mapping[DynQuantity, RegisterSpec]
    description: str = ""

    def __getitem__(self, quantity: DynQuantity) -> RegisterSpec:
        return self.registers[quantity]


def load_dyn_profile(name_or_path: str) -> DynProfile:
    """A shipped profile by name ("dyn-default"), or the profile TOML file at a path."""
    text, file = read_profile_text(name_or_path, SHIPPED)
    return parse_dyn_profile(text, file=file)


def parse_dyn_profile(text: str, *, file: str = "<profile>") -> DynProfile:
    return dyn_profile_from_mapping(parse_profile_toml(text, file), file=file)


def dyn_profile_from_mapping(data: Mapping[str, Any], *, file: str = "<profile>") -> DynProfile:
    if "registers" not in data:
        raise ProfileError(file, "registers", "missing: one entry per quantity")
    try:
        written = _FILE.validate_python(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = [str(p) for p in first["loc"] if str(p) not in ("[key]",)]
        reason = str(first["msg"])
        if first["type"] == "enum" and len(loc) == 2:
            reason = f"unknown quantity; known: {', '.join(q.value for q in DynQuantity)}"
        elif first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            reason = "unknown key; known: address, type, kind, scale, word_order"
        raise ProfileError(file, ".".join(loc), reason) from None
    registers: dict[DynQuantity, RegisterSpec] = {}
    for quantity in DynQuantity:
        key = f"registers.{quantity.value}"
        entry = written.registers.get(quantity)
        if entry is None:
            raise ProfileError(file, key, "missing")
        registers[quantity] = _spec(file, key, quantity, entry, written.word_order)
    _refuse_overlaps(file, registers)
    return DynProfile(
        name=written.name if written.name is not None else Path(file).stem,
        source=file,
        registers=registers,
        description=written.description,
    )


def _spec(
    file: str, key: str, quantity: DynQuantity, entry: _Entry, default_order: WordOrder
) -> RegisterSpec:
    if quantity in HOLDING_ONLY and entry.kind is not RegisterKind.HOLDING:
        raise ProfileError(file, f"{key}.kind", f"{quantity.value} must be a holding register (spec 5)")
    if quantity in INTEGER_QUANTITIES:
        if not entry.type.is_integer:
            raise ProfileError(
                file, f"{key}.type", f"{quantity.value} is a whole number; not {entry.type.value}"
            )
        if entry.scale != 1:
            raise ProfileError(file, f"{key}.scale", f"{quantity.value} is a code or count; scale must be 1")
    if entry.word_order is not None and entry.type.words == 1:
        raise ProfileError(file, f"{key}.word_order", f"a {entry.type.value} has one word; no word order")
    spec = RegisterSpec(
        name=quantity.value,
        kind=entry.kind,
        address=entry.address,
        data_type=entry.type,
        scale=float(entry.scale),
        word_order=entry.word_order or default_order,
    )
    if spec.end > 0x10000:
        raise ProfileError(file, key, f"registers {entry.address}..{spec.end - 1} run past address 65535")
    return spec


def _refuse_overlaps(file: str, registers: Mapping[DynQuantity, RegisterSpec]) -> None:
    order = list(DynQuantity)
    for kind in RegisterKind:
        spans = sorted(
            ((s.address, s.end, q) for q, s in registers.items() if s.kind is kind),
            key=lambda span: (span[0], span[1], order.index(span[2])),
        )
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                raise ProfileError(
                    file,
                    f"registers.{second.value}.address",
                    f"{kind.value} register {start} is also part of {first.value} (ends at {end - 1})",
                )


__all__ = [
    "HOLDING_ONLY",
    "INTEGER_QUANTITIES",
    "DynProfile",
    "DynQuantity",
    "dyn_profile_from_mapping",
    "load_dyn_profile",
    "parse_dyn_profile",
]

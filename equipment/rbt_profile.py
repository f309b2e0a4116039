"""Roller brake tester device profiles: where a vendor keeps each quantity of spec 1.2 (spec 1.4).

A profile is a TOML file; the two shipped ones are ``equipment/profiles/default.toml`` (the table
of spec 1.2) and ``rbt-f.toml`` (the RBT-F tester of spec 1.4). The layout::

    name = "default"
    word_order = "high_first"        # default for every 32-bit register: high_first | low_first

    [registers.LEFT_WHEEL_LOAD]      # one table per quantity; every name in QUANTITIES is required
    kind = "holding"                 # holding | input
    address = 10
    type = "uint16"                  # uint16 | int16 | uint32 | int32 | float32
    scale = 1.0                      # multiply the raw value by this to get the unit of spec 1.2
    not_available = 65535            # raw value meaning "sensor not available"; "nan" for float32
    # length = 1000                  # the curves only: values one after the other
    # word_order = "low_first"       # overrides the top-level one

Every mistake is refused when the profile is loaded, as ``ProfileError(file, key, reason)``: a file
that is not TOML, a missing or unknown quantity or key, an unknown type, kind or word order, a
value out of range, two quantities sharing a register, and the rules of the sequence itself
(STATUS and COMMAND are holding registers, codes and counts are integers, curves have a length).

The file's shape (keys, types, ranges, defaults) is declared once, in ``_ProfileFile`` and
``_RegisterEntry`` (pydantic dataclasses: unknown keys forbidden, strict scalars); what depends on
which quantity a register holds or on other registers (holding-only, whole numbers, curve lengths,
overlaps) is checked after, in ``_register_spec`` and ``_refuse_overlaps``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic import dataclasses as pydantic_dataclasses

from equipment.errors import ProfileError
from equipment.profile_files import parse_profile_toml, read_profile_text
from equipment.register_codec import DataType, NotAvailable, RegisterKind, RegisterSpec, WordOrder

SHIPPED = {"default": "default.toml", "rbt-f": "rbt-f.toml"}
MAX_CURVE_SAMPLES = 1000


class Quantity(StrEnum):
    STATUS = "STATUS"
    COMMAND = "COMMAND"
    FAULT_CODE = "FAULT_CODE"
    TEST_COUNTER = "TEST_COUNTER"
    LEFT_WHEEL_LOAD = "LEFT_WHEEL_LOAD"
    RIGHT_WHEEL_LOAD = "RIGHT_WHEEL_LOAD"
    LEFT_FORCE = "LEFT_FORCE"
    RIGHT_FORCE = "RIGHT_FORCE"
    LEFT_DRAG = "LEFT_DRAG"
    RIGHT_DRAG = "RIGHT_DRAG"
    CURVE_SAMPLES = "CURVE_SAMPLES"
    CURVE_RATE = "CURVE_RATE"
    CURVE_LEFT = "CURVE_LEFT"
    CURVE_RIGHT = "CURVE_RIGHT"


# Bit fields, commands, codes and counts: whole numbers, in the spec's own terms (no scale).
INTEGER_QUANTITIES = frozenset(
    {
        Quantity.STATUS,
        Quantity.COMMAND,
        Quantity.FAULT_CODE,
        Quantity.TEST_COUNTER,
        Quantity.CURVE_SAMPLES,
        Quantity.CURVE_RATE,
    }
)
CURVES = frozenset({Quantity.CURVE_LEFT, Quantity.CURVE_RIGHT})
# The host writes these, so they must be holding registers (spec 1.4: "as in 1.2" in every profile).
HOLDING_ONLY = frozenset({Quantity.STATUS, Quantity.COMMAND})

# Ranges of the integer keys, declared once: on the fields below and in the messages.
_BOUNDS = {"address": (0, 0xFFFF), "length": (1, MAX_CURVE_SAMPLES)}

_SCHEMA = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@pydantic_dataclasses.dataclass(config=_SCHEMA)
class _RegisterEntry:
    """One ``[registers.NAME]`` table as written."""

    kind: RegisterKind
    address: Annotated[int, Strict(), Field(ge=_BOUNDS["address"][0], le=_BOUNDS["address"][1])]
    type: DataType
    scale: Annotated[float, Strict(), Field(gt=0)] = 1.0
    # An integer in the data type's raw range, or "nan" for a float32: checked against ``type``.
    not_available: Annotated[int, Strict()] | Annotated[str, Strict()] | None = None
    length: Annotated[int, Strict(), Field(ge=_BOUNDS["length"][0], le=_BOUNDS["length"][1])] | None = None
    word_order: WordOrder | None = None  # default: the profile's


@pydantic_dataclasses.dataclass(config=_SCHEMA)
class _ProfileFile:
    """A profile file as written; every quantity's table is required (checked in parse_profile)."""

    registers: dict[Quantity, _RegisterEntry]
    name: Annotated[str, Strict(), Field(min_length=1)] | None = None  # default: the file's stem
    description: Annotated[str, Strict()] = ""
    word_order: WordOrder = WordOrder.HIGH_FIRST


_PROFILE_FILE = TypeAdapter(_ProfileFile)


@dataclass(frozen=True, slots=True)
class RbtProfile:
    name: str
    source: str
    registers: Mapping[Quantity, RegisterSpec]
    description: str = ""

    def __getitem__(self, quantity: Quantity) -> RegisterSpec:
        return self.registers[quantity]


def load_profile(name_or_path: str) -> RbtProfile:
    """A shipped profile by name ("default", "rbt-f"), or the profile TOML file at a path."""
    text, file = read_profile_text(name_or_path, SHIPPED)
    return parse_profile(text, file=file)


def parse_profile(text: str, *, file: str = "<profile>") -> RbtProfile:
    return profile_from_mapping(parse_profile_toml(text, file), file=file)


def profile_from_mapping(data: Mapping[str, Any], *, file: str = "<profile>") -> RbtProfile:
    """A profile from an already parsed TOML table (what ``parse_profile`` does after parsing)."""
    if not isinstance(data, Mapping):
        raise ProfileError(file, "", "must be a table")
    if "registers" not in data:
        raise ProfileError(file, "registers", "missing: one [registers.NAME] table per quantity")
    try:
        written = _PROFILE_FILE.validate_python(data)
    except ValidationError as error:
        key, reason = _key_and_reason(error.errors(include_url=False)[0])
        raise ProfileError(file, key, reason) from None
    registers: dict[Quantity, RegisterSpec] = {}
    for quantity in Quantity:
        key = f"registers.{quantity.value}"
        entry = written.registers.get(quantity)
        if entry is None:
            raise ProfileError(file, key, "missing")
        registers[quantity] = _register_spec(file, key, quantity, entry, written.word_order)
    _refuse_overlaps(file, registers)
    return RbtProfile(
        name=written.name if written.name is not None else Path(file).stem,
        source=file,
        registers=registers,
        description=written.description,
    )


def _key_and_reason(error: Any) -> tuple[str, str]:
    """pydantic's (loc, type, ctx) in the words of the profile file: the dotted key and why."""
    loc = [str(part) for part in error["loc"]]
    kind: str = error["type"]
    value = error.get("input")
    # A union member's name ("int", "str") is pydantic's, not a key of the file.
    loc = [part for part in loc if part not in ("int", "str", "[key]")]
    key = ".".join(loc)
    field = loc[-1] if loc else ""
    if kind == "enum" and len(loc) == 2 and loc[0] == "registers":
        return key, f"unknown quantity; known: {', '.join(q.value for q in Quantity)}"
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        owner = _RegisterEntry if len(loc) == 3 else _ProfileFile
        return key, f"unknown key; known: {', '.join(sorted(f.name for f in fields(owner)))}"
    if kind == "missing":
        return key, "missing"
    if kind in ("dataclass_type", "dict_type"):
        return key, "must be a table"
    if kind == "enum":
        choices = {
            "kind": ("'holding' or 'input'", RegisterKind),
            "type": ("a data type", DataType),
            "word_order": ("a word order", WordOrder),
        }
        what, enum = choices.get(field, ("allowed", RegisterKind))
        if field == "kind":
            return key, f"{value!r} is not {what}"
        return key, f"{value!r} is not {what} ({', '.join(m.value for m in enum)})"
    if field == "scale":
        return key, f"{value!r} is not a positive finite number"
    if kind in ("int_type", "string_type") and field == "not_available":
        return key, f'{value!r} is not an integer or "nan"'
    if kind == "int_type":
        return key, f"{value!r} is not an integer"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _BOUNDS[field]
        return key, f"{value} is outside {low}..{high}"
    if field in ("name", "description"):
        return key, "must be a non-empty string" if field == "name" else "must be a string"
    return key, str(error["msg"])


def _register_spec(
    file: str, key: str, quantity: Quantity, entry: _RegisterEntry, default_order: WordOrder
) -> RegisterSpec:
    """The rules that depend on which quantity the register holds."""
    kind, data_type = entry.kind, entry.type
    if quantity in HOLDING_ONLY and kind is not RegisterKind.HOLDING:
        raise ProfileError(file, f"{key}.kind", f"{quantity.value} must be a holding register (spec 1.4)")
    if entry.word_order is not None and data_type.words == 1:
        raise ProfileError(file, f"{key}.word_order", f"a {data_type.value} has one word; no word order")
    word_order = entry.word_order if entry.word_order is not None else default_order
    if quantity in INTEGER_QUANTITIES:
        if not data_type.is_integer:
            raise ProfileError(
                file, f"{key}.type", f"{quantity.value} is a whole number; not {data_type.value}"
            )
        if entry.scale != 1:
            raise ProfileError(file, f"{key}.scale", f"{quantity.value} is a code or count; scale must be 1")

    not_available = _not_available(file, f"{key}.not_available", data_type, entry.not_available)
    if quantity in INTEGER_QUANTITIES and not_available is not None:
        raise ProfileError(file, f"{key}.not_available", f"{quantity.value} has no 'not available' value")

    if quantity in CURVES:
        if entry.length is None:
            raise ProfileError(file, f"{key}.length", "missing: a curve's number of samples")
        length = entry.length
    elif entry.length is not None:
        raise ProfileError(file, f"{key}.length", f"{quantity.value} is one value, not an array")
    else:
        length = 1
    spec = RegisterSpec(
        name=quantity.value,
        kind=kind,
        address=entry.address,
        data_type=data_type,
        scale=float(entry.scale),
        word_order=word_order,
        not_available=not_available,
        length=length,
    )
    if spec.end > 0x10000:
        raise ProfileError(file, key, f"registers {entry.address}..{spec.end - 1} run past address 65535")
    return spec


def _not_available(
    file: str, key: str, data_type: DataType, value: int | str | None
) -> int | NotAvailable | None:
    if value is None:
        return None
    if data_type is DataType.FLOAT32:
        if value != NotAvailable.NAN.value:
            raise ProfileError(
                file, key, f"{value!r}: a float32 register's 'not available' can only be \"nan\""
            )
        return NotAvailable.NAN
    low, high = data_type.raw_range
    if not isinstance(value, int):
        raise ProfileError(file, key, f"{value!r} is not an integer")
    if not low <= value <= high:
        raise ProfileError(file, key, f"{value} is outside {low}..{high}")
    return value


def _refuse_overlaps(file: str, registers: Mapping[Quantity, RegisterSpec]) -> None:
    for kind in RegisterKind:
        # Ties go by the spec's order, so the quantity named is the later one in the table.
        order = list(Quantity)
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
    "CURVES",
    "INTEGER_QUANTITIES",
    "Quantity",
    "RbtProfile",
    "load_profile",
    "parse_profile",
    "profile_from_mapping",
]

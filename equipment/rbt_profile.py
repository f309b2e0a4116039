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
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from equipment.errors import ProfileError
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

_TOP_KEYS = frozenset({"name", "description", "word_order", "registers"})
_REGISTER_KEYS = frozenset({"kind", "address", "type", "scale", "not_available", "length", "word_order"})


@dataclass(frozen=True, slots=True)
class RbtProfile:
    name: str
    source: str
    registers: Mapping[Quantity, RegisterSpec]

    def __getitem__(self, quantity: Quantity) -> RegisterSpec:
        return self.registers[quantity]


def load_profile(name_or_path: str) -> RbtProfile:
    """A shipped profile by name ("default", "rbt-f"), or the profile TOML file at a path."""
    if name_or_path in SHIPPED:
        file = SHIPPED[name_or_path]
        text = resources.files("equipment").joinpath("profiles", file).read_text(encoding="utf-8")
        return parse_profile(text, file=file)
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(str(path), "", f"cannot read the profile: {error}") from error
    return parse_profile(text, file=str(path))


def parse_profile(text: str, *, file: str = "<profile>") -> RbtProfile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(file, "", f"not valid TOML: {error}") from error
    _refuse_unknown(file, "", data, _TOP_KEYS)
    name = data.get("name", Path(file).stem)
    if not isinstance(name, str) or not name:
        raise ProfileError(file, "name", "must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(file, "description", "must be a string")
    default_order = _word_order(file, "word_order", data.get("word_order", WordOrder.HIGH_FIRST.value))
    tables = data.get("registers")
    if not isinstance(tables, dict):
        raise ProfileError(file, "registers", "missing: one [registers.NAME] table per quantity")
    for key in tables:
        if key not in Quantity.__members__:
            raise ProfileError(
                file, f"registers.{key}", f"unknown quantity; known: {', '.join(q.value for q in Quantity)}"
            )
    registers: dict[Quantity, RegisterSpec] = {}
    for quantity in Quantity:
        key = f"registers.{quantity.value}"
        table = tables.get(quantity.value)
        if table is None:
            raise ProfileError(file, key, "missing")
        if not isinstance(table, dict):
            raise ProfileError(file, key, "must be a table")
        registers[quantity] = _register(file, key, quantity, table, default_order)
    _refuse_overlaps(file, registers)
    return RbtProfile(name=name, source=file, registers=registers)


def _refuse_unknown(file: str, prefix: str, table: Mapping[str, Any], known: frozenset[str]) -> None:
    for key in table:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else key
            raise ProfileError(file, where, f"unknown key; known: {', '.join(sorted(known))}")


def _word_order(file: str, key: str, value: Any) -> WordOrder:
    try:
        return WordOrder(value)
    except ValueError:
        allowed = ", ".join(o.value for o in WordOrder)
        raise ProfileError(file, key, f"{value!r} is not a word order ({allowed})") from None


def _int(file: str, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(file, key, f"{value!r} is not an integer")
    if not low <= value <= high:
        raise ProfileError(file, key, f"{value} is outside {low}..{high}")
    return value


def _register(
    file: str, key: str, quantity: Quantity, table: Mapping[str, Any], default_order: WordOrder
) -> RegisterSpec:
    _refuse_unknown(file, key, table, _REGISTER_KEYS)
    for required in ("kind", "address", "type"):
        if required not in table:
            raise ProfileError(file, f"{key}.{required}", "missing")
    try:
        kind = RegisterKind(table["kind"])
    except ValueError:
        raise ProfileError(file, f"{key}.kind", f"{table['kind']!r} is not 'holding' or 'input'") from None
    if quantity in HOLDING_ONLY and kind is not RegisterKind.HOLDING:
        raise ProfileError(file, f"{key}.kind", f"{quantity.value} must be a holding register (spec 1.4)")
    try:
        data_type = DataType(table["type"])
    except ValueError:
        allowed = ", ".join(t.value for t in DataType)
        raise ProfileError(file, f"{key}.type", f"{table['type']!r} is not a data type ({allowed})") from None
    address = _int(file, f"{key}.address", table["address"], 0, 0xFFFF)
    word_order = (
        _word_order(file, f"{key}.word_order", table["word_order"])
        if "word_order" in table
        else default_order
    )
    if "word_order" in table and data_type.words == 1:
        raise ProfileError(file, f"{key}.word_order", f"a {data_type.value} has one word; no word order")

    scale = table.get("scale", 1.0)
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ProfileError(file, f"{key}.scale", f"{scale!r} is not a positive finite number")
    if quantity in INTEGER_QUANTITIES:
        if not data_type.is_integer:
            raise ProfileError(
                file, f"{key}.type", f"{quantity.value} is a whole number; not {data_type.value}"
            )
        if scale != 1:
            raise ProfileError(file, f"{key}.scale", f"{quantity.value} is a code or count; scale must be 1")

    not_available = _not_available(file, f"{key}.not_available", data_type, table.get("not_available"))
    if quantity in INTEGER_QUANTITIES and not_available is not None:
        raise ProfileError(file, f"{key}.not_available", f"{quantity.value} has no 'not available' value")

    if quantity in CURVES:
        if "length" not in table:
            raise ProfileError(file, f"{key}.length", "missing: a curve's number of samples")
        length = _int(file, f"{key}.length", table["length"], 1, MAX_CURVE_SAMPLES)
    elif "length" in table:
        raise ProfileError(file, f"{key}.length", f"{quantity.value} is one value, not an array")
    else:
        length = 1
    spec = RegisterSpec(
        name=quantity.value,
        kind=kind,
        address=address,
        data_type=data_type,
        scale=float(scale),
        word_order=word_order,
        not_available=not_available,
        length=length,
    )
    if spec.end > 0x10000:
        raise ProfileError(file, key, f"registers {address}..{spec.end - 1} run past address 65535")
    return spec


def _not_available(file: str, key: str, data_type: DataType, value: Any) -> int | NotAvailable | None:
    if value is None:
        return None
    if data_type is DataType.FLOAT32:
        if value != NotAvailable.NAN.value:
            raise ProfileError(
                file, key, f"{value!r}: a float32 register's 'not available' can only be \"nan\""
            )
        return NotAvailable.NAN
    low, high = data_type.raw_range
    return _int(file, key, value, low, high)


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


__all__ = ["CURVES", "INTEGER_QUANTITIES", "Quantity", "RbtProfile", "load_profile", "parse_profile"]

"""Values <-> Modbus register words, per register layout; sans-I/O (spec 1.2 and 1.4).

Theory of operation. A ``RegisterSpec`` says where one quantity lives and how it is written: register
kind (holding / input), first address, data type, scale to the spec's unit, word order of 32-bit
values, the raw value that means "sensor not available", and, for the curves, how many values
follow each other. ``decode`` turns the words read from the device into values in the spec's unit
(``None`` for "not available"); ``encode`` does the reverse for the simulator. Both are pure: the
driver and the simulator share them, so an address or word-order mistake shows on both sides.

Each 16-bit word is big-endian on the wire (pymodbus hands us ints); ``WordOrder`` only says which
word of a 32-bit value comes first. Whose fault a bad value is:

* words from the device that cannot be a value of the layout (not 0..65535, a float32 NaN where NaN
  does not mean "not available", an infinity) raise ``RemoteProtocolError`` naming the register;
* a value we were asked to encode that the layout cannot carry raises ``RegisterEncodeError``
  (a ``ValueError``: our fault).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from equipment.errors import CodecError, RemoteProtocolError

DEVICE = "rbt"
WORD_MAX = 0xFFFF
# The Modbus standard's limit for one read request (function 3 and 4).
MAX_READ_REGISTERS = 125


class RegisterKind(StrEnum):
    HOLDING = "holding"  # function 3 (read), 6 / 16 (write)
    INPUT = "input"  # function 4 (read only)


class DataType(StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"

    @property
    def words(self) -> int:
        return 1 if self in (DataType.UINT16, DataType.INT16) else 2

    @property
    def is_integer(self) -> bool:
        return self is not DataType.FLOAT32

    @property
    def raw_range(self) -> tuple[int, int]:
        """Smallest and largest raw integer (integer types only)."""
        return _RAW_RANGE[self]


_RAW_RANGE = {
    DataType.UINT16: (0, 0xFFFF),
    DataType.INT16: (-0x8000, 0x7FFF),
    DataType.UINT32: (0, 0xFFFF_FFFF),
    DataType.INT32: (-0x8000_0000, 0x7FFF_FFFF),
    DataType.FLOAT32: (0, 0),
}
_STRUCT = {
    DataType.UINT16: ">H",
    DataType.INT16: ">h",
    DataType.UINT32: ">I",
    DataType.INT32: ">i",
    DataType.FLOAT32: ">f",
}


class WordOrder(StrEnum):
    HIGH_FIRST = "high_first"  # the spec's default: big-endian all through
    LOW_FIRST = "low_first"  # RBT-F: low word at the lower address, each word big-endian


class NotAvailable(StrEnum):
    """Sentinels that are not a number: NaN (RBT-F)."""

    NAN = "nan"


class RegisterEncodeError(CodecError, ValueError):
    """A value cannot be written in a register layout (out of range, NaN in an integer...)."""

    def __init__(self, register: str, value: object, reason: str) -> None:
        super().__init__(f"register {register}: cannot encode {value!r}: {reason}")
        self.register = register
        self.value = value
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """Where and how one quantity (or one array of them, ``length`` > 1) is kept on the device."""

    name: str
    kind: RegisterKind
    address: int
    data_type: DataType
    scale: float = 1.0
    word_order: WordOrder = WordOrder.HIGH_FIRST
    # Raw integer, or NotAvailable.NAN; None: every raw value is a reading.
    not_available: int | NotAvailable | None = None
    length: int = 1

    @property
    def words(self) -> int:
        """Registers one value takes."""
        return self.data_type.words

    @property
    def register_count(self) -> int:
        return self.words * self.length

    @property
    def end(self) -> int:
        """First address after the last register."""
        return self.address + self.register_count

    def element_address(self, index: int) -> int:
        return self.address + index * self.words


# --- decoding (device -> us) -------------------------------------------------------------------


def _raw_from_words(spec: RegisterSpec, words: Sequence[int]) -> int | float:
    for word in words:
        if not (isinstance(word, int) and 0 <= word <= WORD_MAX):
            raise RemoteProtocolError(
                DEVICE,
                f"decode {spec.name} @ {spec.kind.value} {spec.address}",
                f"{word!r} is not a 16-bit word",
            )
    ordered = list(words) if spec.word_order is WordOrder.HIGH_FIRST else list(reversed(words))
    data = b"".join(word.to_bytes(2, "big") for word in ordered)
    # Every format in _STRUCT is an integer or float code, so unpack yields an int or a float.
    value: int | float = struct.unpack(_STRUCT[spec.data_type], data)[0]
    return value


def decode_one(spec: RegisterSpec, words: Sequence[int], index: int = 0) -> float | None:
    """One value from exactly ``spec.words`` words; ``index`` only names the sample in errors."""
    where = f"{spec.name}[{index}] @ {spec.kind.value} {spec.element_address(index)}"
    if len(words) != spec.words:
        raise RemoteProtocolError(DEVICE, f"decode {where}", f"{len(words)} words, expected {spec.words}")
    raw = _raw_from_words(spec, words)
    if isinstance(raw, float):
        if math.isnan(raw):
            if spec.not_available is NotAvailable.NAN:
                return None
            raise RemoteProtocolError(
                DEVICE, f"decode {where}", "NaN, and NaN does not mean 'not available' here"
            )
        if math.isinf(raw):
            raise RemoteProtocolError(DEVICE, f"decode {where}", f"{raw} is not a reading")
    elif raw == spec.not_available:
        return None
    return raw * spec.scale


def decode(spec: RegisterSpec, words: Sequence[int]) -> list[float | None]:
    """Every value of ``spec`` in ``words`` (a whole number of values, at most ``spec.length``)."""
    if len(words) % spec.words or len(words) > spec.register_count:
        raise RemoteProtocolError(
            DEVICE,
            f"decode {spec.name} @ {spec.kind.value} {spec.address}",
            f"{len(words)} words do not hold whole {spec.data_type.value} values (at most {spec.length})",
        )
    step = spec.words
    return [decode_one(spec, words[i : i + step], i // step) for i in range(0, len(words), step)]


def decode_int(spec: RegisterSpec, words: Sequence[int]) -> int:
    """A count, code or bit field: must be available and a whole number."""
    value = decode_one(spec, words)
    if value is None or value != int(value):
        raise RemoteProtocolError(
            DEVICE,
            f"decode {spec.name} @ {spec.kind.value} {spec.address}",
            f"{value!r} is not a whole number",
        )
    return int(value)


# --- encoding (us -> device; the simulator) ----------------------------------------------------


def encode_one(spec: RegisterSpec, value: float | None) -> list[int]:
    """``spec.words`` words for ``value`` in the spec's unit; ``None`` writes the sentinel."""
    if value is None:
        if spec.not_available is None:
            raise RegisterEncodeError(spec.name, value, "this register has no 'not available' value")
        raw: int | float = math.nan if spec.not_available is NotAvailable.NAN else spec.not_available
    else:
        if not math.isfinite(value):
            raise RegisterEncodeError(spec.name, value, "not a finite number")
        raw = value / spec.scale
        if not math.isfinite(raw):
            raise RegisterEncodeError(spec.name, value, f"{value!r} / scale {spec.scale} overflows")
        if spec.data_type.is_integer:
            raw = round(raw)
            low, high = spec.data_type.raw_range
            if not low <= raw <= high:
                raise RegisterEncodeError(spec.name, value, f"raw {raw} outside {low}..{high}")
            if raw == spec.not_available:
                raise RegisterEncodeError(spec.name, value, f"raw {raw} is the 'not available' value")
        else:
            try:
                struct.pack(">f", raw)
            except OverflowError as error:
                raise RegisterEncodeError(spec.name, value, "too large for float32") from error
    if isinstance(raw, int) and not spec.data_type.raw_range[0] <= raw <= spec.data_type.raw_range[1]:
        # Only a hand-built RegisterSpec gets here; profiles check their sentinels when loaded.
        raise RegisterEncodeError(
            spec.name, value, f"'not available' value {raw} does not fit a {spec.data_type.value}"
        )
    data = struct.pack(_STRUCT[spec.data_type], raw)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if spec.word_order is WordOrder.HIGH_FIRST else list(reversed(words))


def encode(spec: RegisterSpec, values: Sequence[float | None]) -> list[int]:
    if len(values) > spec.length:
        raise RegisterEncodeError(spec.name, len(values), f"more than {spec.length} values")
    return [word for value in values for word in encode_one(spec, value)]


def values_per_read(spec: RegisterSpec, limit: int = MAX_READ_REGISTERS) -> int:
    """Most values of ``spec`` one read can carry without splitting a value (125 or 62 float32)."""
    return limit // spec.words


__all__ = [
    "MAX_READ_REGISTERS",
    "DataType",
    "NotAvailable",
    "RegisterEncodeError",
    "RegisterKind",
    "RegisterSpec",
    "WordOrder",
    "decode",
    "decode_int",
    "decode_one",
    "encode",
    "encode_one",
    "values_per_read",
]

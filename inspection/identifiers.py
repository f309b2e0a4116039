"""Vehicle identifiers: VIN (GB 16735 / ISO 3779) and Chinese number plates.

Validation returns the normalised identifier or raises ``InvalidIdentifier`` naming the field,
the value and the rule it broke.
"""

from __future__ import annotations

import re

from inspection.errors import InspectionError

# Transliteration of VIN letters to numbers (ISO 3779 Annex / GB 16735); I, O and Q never occur.
_VIN_VALUES: dict[str, int] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = "".join(sorted(_VIN_VALUES))

# Plate prefix -> GB/T 2260 province-level code.
PROVINCES: dict[str, str] = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15",
    "辽": "21", "吉": "22", "黑": "23",
    "沪": "31", "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36", "鲁": "37",
    "豫": "41", "鄂": "42", "湘": "43", "粤": "44", "桂": "45", "琼": "46",
    "渝": "50", "川": "51", "贵": "52", "云": "53", "藏": "54",
    "陕": "61", "甘": "62", "青": "63", "宁": "64", "新": "65",
}  # fmt: skip

# Province letter, city letter (no I/O), then 5 (conventional) or 6 (new-energy) of A-Z/0-9 without I/O.
_PLATE = re.compile(r"^(?P<province>.)(?P<city>[A-HJ-NP-Z])(?P<serial>[A-HJ-NP-Z0-9]{5,6})$")


class InvalidIdentifier(InspectionError, ValueError):
    """An identifier broke its format rule; ``field`` and ``value`` say which one."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) that ``vin`` must carry: ``0``-``9`` or ``X``."""
    if len(vin) != 17:
        raise InvalidIdentifier("vin", vin, f"has {len(vin)} characters, a VIN has 17")
    total = 0
    for position, (char, weight) in enumerate(zip(vin.upper(), _VIN_WEIGHTS, strict=True), start=1):
        value = _VIN_VALUES.get(char)
        if value is None:
            raise InvalidIdentifier("vin", vin, f"character {char!r} at position {position} is not allowed")
        total += value * weight
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_vin(vin: str) -> str:
    """Return ``vin`` upper-cased if it is a well-formed VIN with a correct check digit."""
    normalised = vin.strip().upper()
    expected = vin_check_digit(normalised)
    if normalised[8] != expected:
        raise InvalidIdentifier("vin", vin, f"check digit is {normalised[8]!r}, expected {expected!r}")
    return normalised


def validate_plate(plate: str) -> str:
    """Return ``plate`` normalised (upper case, no spaces or dots) if it is a valid Chinese plate."""
    normalised = plate.replace(" ", "").replace("·", "").replace(".", "").upper()
    match = _PLATE.match(normalised)
    if match is None:
        raise InvalidIdentifier(
            "plate", plate, "expected province character, city letter, then 5 or 6 letters/digits (no I/O)"
        )
    if match["province"] not in PROVINCES:
        raise InvalidIdentifier("plate", plate, f"unknown province prefix {match['province']!r}")
    return normalised


def province_code_of_plate(plate: str) -> str:
    """GB/T 2260 code of the province that issued ``plate`` (e.g. ``"50"`` for 渝)."""
    return PROVINCES[validate_plate(plate)[0]]

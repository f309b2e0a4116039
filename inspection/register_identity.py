"""What the vehicle register knows of a car's identity beyond its VIN: the engine number stamped on
the engine (the motor number of an electric car) and the body colour, as the registry records them.

They are the register's, not the inspection record's: a station inspects a ``Vehicle`` and never
needs either, while the registry clerk of an archive transfer (异地转籍, ``hub.identity_check``)
compares what the car shows with them. So they live beside ``inspection.Vehicle``, in the
register row (``inspection.vehicle_register_csv.RegisterRow``), not in it.

Body colours are the register's colour classes (A 白 white, B 灰 grey, C 黄 yellow, D 粉 pink,
E 红 red, F 紫 purple, G 绿 green, H 蓝 blue, I 棕 brown, J 黑 black, Z 其他 other); a colour is
read from its English name, its Chinese name or its letter, in any case. An engine number is
letters and digits, optionally grouped by dashes, as stamped; it is kept upper case, and dots,
spaces and dashes are not significant when two are compared (``same_engine_number``).

Pure: no I/O.
"""

from __future__ import annotations

import re
from enum import StrEnum

from inspection.errors import InspectionError

ENGINE_NUMBER_MAX = 32  # the register's column (hub.models.Vehicle.engine_number)
_ENGINE_NUMBER = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
_ENGINE_NOISE = re.compile(r"[\s.\-·_/]+")


class InvalidRegisterField(InspectionError, ValueError):
    """A register field's text that is not a value of it: ``field``, ``value``, ``reason``."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class BodyColour(StrEnum):
    WHITE = "white"
    GREY = "grey"
    YELLOW = "yellow"
    PINK = "pink"
    RED = "red"
    PURPLE = "purple"
    GREEN = "green"
    BLUE = "blue"
    BROWN = "brown"
    BLACK = "black"
    OTHER = "other"

    @property
    def code(self) -> str:
        return _CODES[self]

    @property
    def chinese(self) -> str:
        return _CHINESE[self]


_CODES = {
    BodyColour.WHITE: "A",
    BodyColour.GREY: "B",
    BodyColour.YELLOW: "C",
    BodyColour.PINK: "D",
    BodyColour.RED: "E",
    BodyColour.PURPLE: "F",
    BodyColour.GREEN: "G",
    BodyColour.BLUE: "H",
    BodyColour.BROWN: "I",
    BodyColour.BLACK: "J",
    BodyColour.OTHER: "Z",
}
_CHINESE = {
    BodyColour.WHITE: "白",
    BodyColour.GREY: "灰",
    BodyColour.YELLOW: "黄",
    BodyColour.PINK: "粉",
    BodyColour.RED: "红",
    BodyColour.PURPLE: "紫",
    BodyColour.GREEN: "绿",
    BodyColour.BLUE: "蓝",
    BodyColour.BROWN: "棕",
    BodyColour.BLACK: "黑",
    BodyColour.OTHER: "其他",
}
_COLOUR_NAMES: dict[str, BodyColour] = {
    **{colour.value: colour for colour in BodyColour},
    "gray": BodyColour.GREY,
    **{colour.code.lower(): colour for colour in BodyColour},
    **{colour.chinese: colour for colour in BodyColour},
    **{colour.chinese + "色": colour for colour in BodyColour},
}


def parse_colour(text: str) -> BodyColour:
    """The colour class ``text`` names (English, Chinese or the letter; case and spaces aside)."""
    colour = _COLOUR_NAMES.get("".join(text.split()).lower())
    if colour is None:
        known = ", ".join(f"{c.value} ({c.chinese}, {c.code})" for c in BodyColour)
        raise InvalidRegisterField("colour", text, f"not a register colour (one of {known})")
    return colour


def parse_engine_number(text: str) -> str:
    """The engine number as the register keeps it: upper case, letters and digits in groups
    joined by single dashes, at most ``ENGINE_NUMBER_MAX`` characters."""
    number = text.strip().upper()
    if not number:
        raise InvalidRegisterField("engine_number", text, "empty")
    if len(number) > ENGINE_NUMBER_MAX:
        raise InvalidRegisterField(
            "engine_number", text, f"{len(number)} characters, at most {ENGINE_NUMBER_MAX}"
        )
    if not number.isascii() or _ENGINE_NUMBER.fullmatch(number) is None:
        raise InvalidRegisterField(
            "engine_number", text, "not letters and digits (groups joined by single dashes)"
        )
    return number


def same_engine_number(observed: str, registered: str) -> bool:
    """Whether a clerk's reading of the stamped number is the registered one: case, spaces, dots
    and dashes are how people copy a stamp, not part of it."""
    return _ENGINE_NOISE.sub("", observed).upper() == _ENGINE_NOISE.sub("", registered).upper()

"""Headlight tester (HLT) line protocol, sans-I/O (spec section 2).

Theory of operation. Every frame is one ASCII line ``$BODY*CC\\r\\n``; CC is the XOR of the BODY
bytes as two hex digits. Two layers, like h11's connection and events:

* ``HltDecoder`` finds frames in a byte stream and checks their checksum. ``$`` never occurs inside
  a frame, so it is a hard resynchronisation point: bytes before a ``$`` are noise, and a frame cut
  short by a new ``$`` is dropped (counted in ``discarded``) in favour of the new one. Lines
  without a well-formed ``*CC\\r\\n`` tail are noise too. Only a complete frame with a wrong
  checksum is an error (``HltChecksumError``) - the tester itself answers that with ``ERR,1``.
* ``parse_request`` / ``parse_reply`` turn a BODY into a typed message; ``encode`` does the
  reverse. A body that is well framed but not a message of the spec raises ``HltMessageError``.

Decoding accepts lower-case checksum digits (some firmware sends them); encoding always writes
upper case, as the spec says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import reduce
from typing import TypeVar

from equipment.errors import CodecError
from equipment.receive_buffer import ReceiveBuffer

START = ord("$")
# Longest frame we wait for before calling a line noise; real frames are under 60 bytes.
MAX_FRAME = 255
_HEX = frozenset(b"0123456789ABCDEFabcdef")
# Characters that would break the framing or the field structure if put inside a field.
_FORBIDDEN_IN_FIELD = frozenset("$*,\r\n")


class HltCodecError(CodecError):
    """Base of the headlight codec's errors; the decoder stays usable after raising one."""


class HltChecksumError(HltCodecError):
    def __init__(self, body: bytes, received: int) -> None:
        self.body = body
        self.received = received
        self.expected = xor_checksum(body)
        super().__init__(
            f"bad checksum in frame {body!r}: received {received:02X}, computed {self.expected:02X}"
        )


class HltMessageError(HltCodecError):
    def __init__(self, body: bytes, reason: str) -> None:
        self.body = body
        self.reason = reason
        super().__init__(f"frame {body!r}: {reason}")


def xor_checksum(body: bytes) -> int:
    return reduce(lambda acc, byte: acc ^ byte, body, 0)


def frame_body(body: str | bytes) -> bytes:
    """``$BODY*CC\\r\\n`` for any body (also used to send malformed or unknown commands in tests)."""
    raw = body.encode("ascii") if isinstance(body, str) else body
    return b"$" + raw + b"*" + f"{xor_checksum(raw):02X}".encode() + b"\r\n"


class HltDecoder(ReceiveBuffer):
    """Feed bytes, pull frame bodies (bytes between ``$`` and ``*``)."""

    def next_frame(self) -> bytes | None:
        buffer = self._buffer
        while True:
            start = buffer.find(START)
            if start < 0:
                self._drop(len(buffer))
                return None
            self._drop(start)
            newline = buffer.find(b"\n", 1)
            restart = buffer.find(START, 1)
            if restart >= 0 and (newline < 0 or restart < newline):
                self._drop(restart)  # a frame cut short by the start of the next one
                continue
            if newline < 0:
                if len(buffer) > MAX_FRAME:
                    self._drop(len(buffer))
                return None
            line = bytes(buffer[: newline + 1])
            self._drop(newline + 1)
            # $ BODY * C C \r \n
            if len(line) < 6 or line[-5] != ord("*") or line[-2] != ord("\r"):
                continue
            body, digits = line[1:-5], line[-4:-2]
            if b"*" in body or not set(digits) <= _HEX:
                continue
            # These bytes were counted as discarded by _drop; they were a frame after all.
            self.discarded -= len(line)
            received = int(digits, 16)
            if xor_checksum(body) != received:
                self.discarded += len(line)
                raise HltChecksumError(body, received)
            return body

    def __iter__(self) -> Iterator[bytes]:
        while (body := self.next_frame()) is not None:
            yield body


class Side(StrEnum):
    LEFT = "L"
    RIGHT = "R"


class Beam(StrEnum):
    HIGH = "H"
    LOW = "L"


class HltState(StrEnum):
    READY = "READY"
    BUSY = "BUSY"
    FAULT = "FAULT"


class HltErrorCode(IntEnum):
    CHECKSUM = 1
    UNKNOWN_COMMAND = 2
    BUSY = 3
    NO_LAMP_FOUND = 4
    NOT_ALIGNED = 5


ERROR_TEXT = {
    HltErrorCode.CHECKSUM: "checksum",
    HltErrorCode.UNKNOWN_COMMAND: "unknown command",
    HltErrorCode.BUSY: "busy",
    HltErrorCode.NO_LAMP_FOUND: "no lamp found",
    HltErrorCode.NOT_ALIGNED: "vehicle not aligned",
}


def _check_field(name: str, value: str, allow_comma: bool = False) -> str:
    bad = _FORBIDDEN_IN_FIELD - ({","} if allow_comma else set())
    if not value.isascii() or not value.isprintable() or any(char in bad for char in value):
        raise ValueError(f"{name}={value!r} cannot be sent in an HLT frame")
    return value


_E = TypeVar("_E", bound=StrEnum)


# Requests (host -> tester)


@dataclass(frozen=True, slots=True)
class IdRequest:
    def body(self) -> str:
        return "ID"


@dataclass(frozen=True, slots=True)
class StatRequest:
    def body(self) -> str:
        return "STAT"


@dataclass(frozen=True, slots=True)
class MeasRequest:
    side: Side
    beam: Beam

    def body(self) -> str:
        return f"MEAS,{Side(self.side).value},{Beam(self.beam).value}"


# Replies (tester -> host)


@dataclass(frozen=True, slots=True)
class IdReply:
    serial: str
    firmware: str
    model: str = "HLT"

    def body(self) -> str:
        fields = (_check_field(name, getattr(self, name)) for name in ("model", "serial", "firmware"))
        return "ID," + ",".join(fields)


@dataclass(frozen=True, slots=True)
class StatReply:
    state: HltState

    def body(self) -> str:
        return f"STAT,{HltState(self.state).value}"


@dataclass(frozen=True, slots=True)
class LampReading:
    """A RES reply: one lamp, one beam. Intensity in cd (0 for low beam), positions in mm."""

    side: Side
    beam: Beam
    intensity_cd: int
    vertical_mm: int
    horizontal_mm: int
    lamp_height_mm: int

    def body(self) -> str:
        numbers = (self.intensity_cd, self.vertical_mm, self.horizontal_mm, self.lamp_height_mm)
        return f"RES,{Side(self.side).value},{Beam(self.beam).value}," + ",".join(
            str(int(n)) for n in numbers
        )


@dataclass(frozen=True, slots=True)
class ErrReply:
    code: int
    text: str

    def body(self) -> str:
        return f"ERR,{int(self.code)},{_check_field('text', self.text, allow_comma=True)}"


HltRequest = IdRequest | StatRequest | MeasRequest
HltReply = IdReply | StatReply | LampReading | ErrReply


def encode(message: HltRequest | HltReply) -> bytes:
    return frame_body(message.body())


def _fields(body: bytes) -> list[str]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as error:
        raise HltMessageError(body, "not ASCII") from error
    return text.split(",")


def _int(body: bytes, name: str, value: str) -> int:
    # int() would also accept "+5", " 5" and "5_0"; the spec's integers are plain decimal.
    digits = value[1:] if value.startswith("-") else value
    if not digits.isascii() or not digits.isdigit():
        raise HltMessageError(body, f"{name} is not an integer: {value!r}")
    return int(value)


def _enum(body: bytes, kind: type[_E], name: str, value: str) -> _E:
    try:
        return kind(value)
    except ValueError as error:
        raise HltMessageError(
            body, f"{name} must be one of {[m.value for m in kind]}, got {value!r}"
        ) from error


def parse_request(body: bytes) -> HltRequest:
    fields = _fields(body)
    match fields:
        case ["ID"]:
            return IdRequest()
        case ["STAT"]:
            return StatRequest()
        case ["MEAS", side, beam]:
            return MeasRequest(_enum(body, Side, "side", side), _enum(body, Beam, "beam", beam))
    raise HltMessageError(body, "unknown command")


def parse_reply(body: bytes) -> HltReply:
    fields = _fields(body)
    match fields:
        case ["ID", model, serial, firmware]:
            return IdReply(serial=serial, firmware=firmware, model=model)
        case ["STAT", state]:
            return StatReply(_enum(body, HltState, "state", state))
        case ["RES", side, beam, intensity, vertical, horizontal, height]:
            return LampReading(
                side=_enum(body, Side, "side", side),
                beam=_enum(body, Beam, "beam", beam),
                intensity_cd=_int(body, "intensity", intensity),
                vertical_mm=_int(body, "v", vertical),
                horizontal_mm=_int(body, "h", horizontal),
                lamp_height_mm=_int(body, "height", height),
            )
        case ["ERR", code, *text] if text:
            return ErrReply(_int(body, "code", code), ",".join(text))
    raise HltMessageError(body, "not a reply of the HLT protocol")

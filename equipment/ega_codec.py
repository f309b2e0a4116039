"""Exhaust gas analyser (EGA) messages on top of ``binary_frame_codec`` (spec section 3). Sans-I/O.

Requests carry no data; replies are decoded against the request they answer, because the spec's
replies are only distinguishable by their command byte and length. Values come out in engineering
units (floats) and are encoded by rounding to the wire resolution; a value that does not fit its
field is a ``ValueError`` (our mistake, not the device's).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from equipment.binary_frame_codec import (
    Ack,
    Frame,
    MessageError,
    Nak,
    decode_common,
    encode_frame,
    expect_length,
)


class EgaCommand(IntEnum):
    STATUS = 0x01
    ZERO = 0x02
    READ = 0x03


@dataclass(frozen=True, slots=True)
class StatusFlags:
    """The STATUS reply byte, shared with the opacity meter."""

    warmed_up: bool
    zeroed: bool
    low_flow: bool = False
    leak_check_passed: bool = False
    hc_residue_high: bool = False

    def to_byte(self) -> int:
        bits = (self.warmed_up, self.zeroed, self.low_flow, self.leak_check_passed, self.hc_residue_high)
        return sum(1 << i for i, bit in enumerate(bits) if bit)

    @classmethod
    def from_byte(cls, value: int) -> StatusFlags:
        # Bits 5-7 are reserved; ignoring them keeps us working with a later firmware.
        return cls(*(bool(value >> i & 1) for i in range(5)))


@dataclass(frozen=True, slots=True)
class GasSample:
    hc_ppm: float
    co_pct: float
    co2_pct: float
    o2_pct: float
    no_ppm: float
    lambda_: float
    rpm: float
    oil_temp_c: float
    low_flow: bool = False
    dilution: bool = False


_SAMPLE = struct.Struct(">HHHHHHHhH")
SAMPLE_LENGTH = _SAMPLE.size  # 18, as the spec says


def to_raw(value: float, scale: float, field: str, signed: bool = False) -> int:
    raw = round(value / scale)
    low, high = (-0x8000, 0x7FFF) if signed else (0, 0xFFFF)
    if not low <= raw <= high:
        raise ValueError(f"{field}={value} does not fit its 16-bit field (resolution {scale})")
    return raw


def encode_sample(sample: GasSample) -> bytes:
    flags = (1 if sample.low_flow else 0) | (2 if sample.dilution else 0)
    data = _SAMPLE.pack(
        to_raw(sample.hc_ppm, 1, "hc_ppm"),
        to_raw(sample.co_pct, 0.01, "co_pct"),
        to_raw(sample.co2_pct, 0.01, "co2_pct"),
        to_raw(sample.o2_pct, 0.01, "o2_pct"),
        to_raw(sample.no_ppm, 1, "no_ppm"),
        to_raw(sample.lambda_, 0.001, "lambda_"),
        to_raw(sample.rpm, 1, "rpm"),
        to_raw(sample.oil_temp_c, 0.1, "oil_temp_c", signed=True),
        flags,
    )
    return encode_frame(EgaCommand.READ, data)


def decode_sample(data: bytes) -> GasSample:
    hc, co, co2, o2, no, lam, rpm, oil, flags = _SAMPLE.unpack(data)
    # Divide rather than multiply by 0.01: x / 100 is the float nearest the decimal value.
    return GasSample(
        hc_ppm=float(hc),
        co_pct=co / 100,
        co2_pct=co2 / 100,
        o2_pct=o2 / 100,
        no_ppm=float(no),
        lambda_=lam / 1000,
        rpm=float(rpm),
        oil_temp_c=oil / 10,
        low_flow=bool(flags & 1),
        dilution=bool(flags & 2),
    )


def encode_request(command: EgaCommand) -> bytes:
    return encode_frame(command)


def encode_status(status: StatusFlags, cmd: int = EgaCommand.STATUS) -> bytes:
    return encode_frame(cmd, bytes((status.to_byte(),)))


EgaReply = StatusFlags | Ack | GasSample | Nak


def decode_reply(frame: Frame, request: EgaCommand) -> EgaReply:
    """Decode ``frame`` as the answer to ``request``; MessageError if it cannot be one."""
    nak = decode_common(frame, request)
    if nak is not None:
        return nak
    if request is EgaCommand.STATUS:
        return StatusFlags.from_byte(expect_length(frame, 1)[0])
    if request is EgaCommand.ZERO:
        expect_length(frame, 0)
        return Ack(frame.cmd)
    if request is EgaCommand.READ:
        return decode_sample(expect_length(frame, SAMPLE_LENGTH))
    raise MessageError(frame, f"no reply layout for request {request!r}")

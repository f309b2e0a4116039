"""Smoke opacity meter (OPM) messages on top of ``binary_frame_codec`` (spec section 4). Sans-I/O.

Same framing, NAK codes, STATUS byte and ZERO as the gas analyser; the readings differ.
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
from equipment.ega_codec import StatusFlags, to_raw


class OpmCommand(IntEnum):
    STATUS = 0x01
    ZERO = 0x02
    READ = 0x21
    PEAK = 0x22
    PEAK_RESET = 0x23


@dataclass(frozen=True, slots=True)
class OpacitySample:
    n_pct: float
    k_per_m: float
    rpm: float
    oil_temp_c: float


@dataclass(frozen=True, slots=True)
class Peak:
    """PEAK reply: the highest K (m^-1) since the last PEAK_RESET."""

    k_per_m: float


_SAMPLE = struct.Struct(">HHHh")
_PEAK = struct.Struct(">H")


def encode_request(command: OpmCommand) -> bytes:
    return encode_frame(command)


def encode_sample(sample: OpacitySample) -> bytes:
    data = _SAMPLE.pack(
        to_raw(sample.n_pct, 0.1, "n_pct"),
        to_raw(sample.k_per_m, 0.01, "k_per_m"),
        to_raw(sample.rpm, 1, "rpm"),
        to_raw(sample.oil_temp_c, 0.1, "oil_temp_c", signed=True),
    )
    return encode_frame(OpmCommand.READ, data)


def decode_sample(data: bytes) -> OpacitySample:
    n, k, rpm, oil = _SAMPLE.unpack(data)
    return OpacitySample(n_pct=n / 10, k_per_m=k / 100, rpm=float(rpm), oil_temp_c=oil / 10)


def encode_peak(peak: Peak) -> bytes:
    return encode_frame(OpmCommand.PEAK, _PEAK.pack(to_raw(peak.k_per_m, 0.01, "k_per_m")))


def encode_status(status: StatusFlags) -> bytes:
    return encode_frame(OpmCommand.STATUS, bytes((status.to_byte(),)))


OpmReply = StatusFlags | Ack | OpacitySample | Peak | Nak


def decode_reply(frame: Frame, request: OpmCommand) -> OpmReply:
    """Decode ``frame`` as the answer to ``request``; MessageError if it cannot be one."""
    nak = decode_common(frame, request)
    if nak is not None:
        return nak
    if request is OpmCommand.STATUS:
        return StatusFlags.from_byte(expect_length(frame, 1)[0])
    if request in (OpmCommand.ZERO, OpmCommand.PEAK_RESET):
        expect_length(frame, 0)
        return Ack(frame.cmd)
    if request is OpmCommand.READ:
        return decode_sample(expect_length(frame, _SAMPLE.size))
    if request is OpmCommand.PEAK:
        return Peak(_PEAK.unpack(expect_length(frame, _PEAK.size))[0] / 100)
    raise MessageError(frame, f"no reply layout for request {request!r}")

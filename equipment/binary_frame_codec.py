"""Sans-I/O framing shared by the exhaust gas analyser (EGA) and the opacity meter (OPM).

Theory of operation. A frame is ``STX CMD LEN DATA[LEN] CS ETX`` with STX 0x02, ETX 0x03 and CS
chosen so that ``(CMD + LEN + sum(DATA) + CS) % 256 == 0`` (spec section 3). A ``FrameDecoder`` is fed
whatever bytes the line delivered, in any chunking, and hands out complete frames. Nothing here
touches a port; the transport (``equipment.serial_link``) and the simulators both use it.

Resynchronisation. Unlike the headlight tester's ``$``, STX is not reserved: it may occur inside
DATA. So the decoder treats every STX as a *candidate* start and checks it when LEN + 5 bytes are
in: no ETX in the right place means the candidate was line noise, and only that one STX byte is
dropped before searching again (so a real frame that follows noise is never swallowed). A candidate
with its ETX in place but a wrong checksum is a corrupted frame: it is consumed whole and reported
as ``ChecksumError``, which the driver retries. A truncated frame followed by silence cannot be
told from a slow one by bytes alone; the transport calls ``idle()`` when the line has been quiet
for an inter-frame gap, which discards the unfinished candidate (like Modbus RTU's 3.5 character
rule). Drivers also ``reset()`` before each request: in a request/reply protocol stale bytes are
never the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from equipment.errors import CodecError
from equipment.receive_buffer import ReceiveBuffer

STX = 0x02
ETX = 0x03
NAK = 0x7F
# STX CMD LEN ... CS ETX: five bytes of overhead around DATA.
OVERHEAD = 5
MAX_DATA = 255


class FrameError(CodecError):
    """Base of the framing errors; the decoder stays usable after raising one."""


class MessageError(FrameError):
    """A well-formed frame whose content is wrong: unexpected command byte, wrong data length."""

    def __init__(self, frame: Frame, reason: str) -> None:
        self.frame = frame
        self.reason = reason
        super().__init__(f"frame cmd=0x{frame.cmd:02X} data={frame.data.hex(' ')}: {reason}")


class ChecksumError(FrameError):
    """A complete frame arrived whose checksum does not add up; it has been discarded."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.cmd = raw[1]
        super().__init__(f"bad checksum in frame cmd=0x{raw[1]:02X} len={raw[2]} raw={raw.hex(' ')}")


class NakCode(IntEnum):
    """Data byte of a NAK (0x7F) reply; shared by the EGA and the OPM."""

    BAD_CHECKSUM = 1
    UNKNOWN_COMMAND = 2
    NOT_WARMED_UP = 3
    BUSY = 4


NAK_TEXT = {
    NakCode.BAD_CHECKSUM: "bad checksum",
    NakCode.UNKNOWN_COMMAND: "unknown command",
    NakCode.NOT_WARMED_UP: "not warmed up",
    NakCode.BUSY: "busy",
}


@dataclass(frozen=True, slots=True)
class Nak:
    """A NAK reply. ``code`` stays an int: a device may send a code the spec does not list."""

    code: int

    @property
    def text(self) -> str:
        try:
            return NAK_TEXT[NakCode(self.code)]
        except ValueError:
            return f"unlisted NAK code {self.code}"

    def encode(self) -> bytes:
        return encode_frame(NAK, bytes((self.code,)))


@dataclass(frozen=True, slots=True)
class Ack:
    """An empty reply carrying the request's command byte (ZERO, PEAK_RESET)."""

    cmd: int

    def encode(self) -> bytes:
        return encode_frame(self.cmd)


def expect_length(frame: Frame, length: int) -> bytes:
    if len(frame.data) != length:
        raise MessageError(frame, f"expected {length} data bytes, got {len(frame.data)}")
    return frame.data


def decode_common(frame: Frame, request_cmd: int) -> Nak | None:
    """Checks every reply shares: a NAK (returned) or the request's own command byte (else raise)."""
    if frame.cmd == NAK:
        return Nak(expect_length(frame, 1)[0])
    if frame.cmd != request_cmd:
        raise MessageError(frame, f"reply to command 0x{request_cmd:02X} carries command 0x{frame.cmd:02X}")
    return None


@dataclass(frozen=True, slots=True)
class Frame:
    cmd: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.cmd <= 0xFF:
            raise ValueError(f"command byte out of range: {self.cmd}")
        if len(self.data) > MAX_DATA:
            raise ValueError(f"frame data too long: {len(self.data)} > {MAX_DATA}")

    def encode(self) -> bytes:
        return encode_frame(self.cmd, self.data)


def checksum(cmd: int, data: bytes) -> int:
    """The CS byte that makes CMD + LEN + DATA + CS == 0 (mod 256)."""
    return (-(cmd + len(data) + sum(data))) & 0xFF


def encode_frame(cmd: int, data: bytes = b"") -> bytes:
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"command byte out of range: {cmd}")
    if len(data) > MAX_DATA:
        raise ValueError(f"frame data too long: {len(data)} > {MAX_DATA}")
    return bytes((STX, cmd, len(data))) + data + bytes((checksum(cmd, data), ETX))


class FrameDecoder(ReceiveBuffer):
    """Feed bytes, pull ``Frame``s. ``next_frame()`` returns None when it needs more bytes."""

    def next_frame(self) -> Frame | None:
        buffer = self._buffer
        while True:
            start = buffer.find(STX)
            if start < 0:
                self._drop(len(buffer))
                return None
            self._drop(start)
            if len(buffer) < 3:
                return None
            total = buffer[2] + OVERHEAD
            if len(buffer) < total:
                return None
            if buffer[total - 1] != ETX:
                # Not a frame after all: drop just this STX and look for the next candidate.
                self._drop(1)
                continue
            raw = bytes(buffer[:total])
            del buffer[:total]
            if sum(raw[1:-1]) & 0xFF:
                self.discarded += total
                raise ChecksumError(raw)
            return Frame(raw[1], raw[3:-2])

    def __iter__(self) -> Iterator[Frame]:
        """Yield buffered frames until more bytes are needed (a ChecksumError ends the iteration)."""
        while (frame := self.next_frame()) is not None:
            yield frame

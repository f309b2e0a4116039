"""Headlight tester simulator (spec section 2) on a pseudo-terminal.

Behaviour that a driver may rely on and this simulator keeps: every frame is answered with exactly
one frame; a frame with a wrong checksum gets ``ERR,1,checksum``; an unknown command ``ERR,2``;
MEAS takes 2-6 simulated seconds (drawn from the seed), during which STAT says BUSY and another
MEAS gets ``ERR,3,busy``; the RES then comes as the answer to the MEAS. Values come from a
per-vehicle ``HeadlightScenario``; a lamp can be "no lamp found" (ERR 4) or "not aligned" (ERR 5).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from equipment.hlt_codec import (
    ERROR_TEXT,
    Beam,
    ErrReply,
    HltChecksumError,
    HltDecoder,
    HltErrorCode,
    HltMessageError,
    HltState,
    IdReply,
    IdRequest,
    LampReading,
    MeasRequest,
    Side,
    StatReply,
    StatRequest,
    encode,
    parse_request,
)
from simulators.serial_device import Fault, FaultKind, Reply, SerialDeviceSimulator


class LampOutcome(StrEnum):
    MEASURED = "measured"
    NO_LAMP_FOUND = "no-lamp-found"
    NOT_ALIGNED = "not-aligned"


@dataclass(frozen=True)
class LampScenario:
    intensity_cd: int
    vertical_mm: int
    horizontal_mm: int
    lamp_height_mm: int
    outcome: LampOutcome = LampOutcome.MEASURED


@dataclass(frozen=True)
class HeadlightScenario:
    """One vehicle's lamps. A (side, beam) missing from ``lamps`` is "no lamp found"."""

    lamps: Mapping[tuple[Side, Beam], LampScenario]
    serial: str = "HLT-0417"
    firmware: str = "3.2.1"
    # Measurement time range in simulated seconds (spec: 2-6 s).
    measure_time_s: tuple[float, float] = (2.0, 6.0)
    fault: bool = False

    @classmethod
    def typical(
        cls, *, lamp_height_mm: int = 650, seed: int = 0, low_beam_band: tuple[float, float] = (0.72, 0.88)
    ) -> HeadlightScenario:
        """Lamps in good order: high beams 20-30 kcd, the low-beam elbow inside ``low_beam_band``
        (fractions of the lamp height H; the default suits a passenger car, trucks and buses aim
        lower, e.g. (0.62, 0.78))."""
        rng = random.Random(seed)
        lamps: dict[tuple[Side, Beam], LampScenario] = {}
        for side in Side:
            height = lamp_height_mm + rng.randint(-5, 5)
            lamps[(side, Beam.HIGH)] = LampScenario(
                intensity_cd=rng.randint(20_000, 30_000),
                vertical_mm=round(height * rng.uniform(0.86, 0.94)),
                horizontal_mm=rng.randint(-100, 200),
                lamp_height_mm=height,
            )
            lamps[(side, Beam.LOW)] = LampScenario(
                intensity_cd=0,
                vertical_mm=round(height * rng.uniform(*low_beam_band)),
                horizontal_mm=rng.randint(-100, 200),
                lamp_height_mm=height,
            )
        return cls(lamps=lamps)

    def reading(self, side: Side, beam: Beam) -> LampReading | ErrReply:
        lamp = self.lamps.get((side, beam))
        if lamp is None or lamp.outcome is LampOutcome.NO_LAMP_FOUND:
            return ErrReply(HltErrorCode.NO_LAMP_FOUND, ERROR_TEXT[HltErrorCode.NO_LAMP_FOUND])
        if lamp.outcome is LampOutcome.NOT_ALIGNED:
            return ErrReply(HltErrorCode.NOT_ALIGNED, ERROR_TEXT[HltErrorCode.NOT_ALIGNED])
        # The spec: intensity is reported for the high beam only.
        intensity = lamp.intensity_cd if beam is Beam.HIGH else 0
        return LampReading(side, beam, intensity, lamp.vertical_mm, lamp.horizontal_mm, lamp.lamp_height_mm)


@dataclass
class _Measurement:
    until: float
    request: MeasRequest = field(compare=False)


class HeadlightTesterSimulator(SerialDeviceSimulator):
    name = "hlt"

    def __init__(
        self,
        scenario: HeadlightScenario | None = None,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        faults: Iterable[Fault] = (),
    ) -> None:
        super().__init__(time_scale=time_scale, faults=faults)
        self.scenario = scenario or HeadlightScenario.typical(seed=seed)
        self.seed = seed
        self._rng = random.Random(seed)
        self._busy_until = 0.0

    def _on_start(self) -> None:
        self._rng = random.Random(self.seed)
        self._busy_until = 0.0

    @property
    def _codec_errors(self) -> tuple[type[Exception], ...]:
        return (HltChecksumError,)

    def _new_decoder(self) -> HltDecoder:
        return HltDecoder()

    def _command_name(self, frame: bytes) -> str:
        head = frame.split(b",", 1)[0]
        return head.decode("ascii", "replace").lower() if head in (b"ID", b"STAT", b"MEAS") else "unknown"

    def _faulted(self, command: str) -> bool:
        return self.scenario.fault or self.has_fault(FaultKind.FAULT, command)

    def _handle(self, frame: bytes, command: str) -> Reply | None:
        try:
            request = parse_request(frame)
        except HltMessageError:
            return Reply(self._err(HltErrorCode.UNKNOWN_COMMAND))
        now = self.now()
        match request:
            case IdRequest():
                return Reply(encode(IdReply(self.scenario.serial, self.scenario.firmware)))
            case StatRequest():
                if self._faulted(command):
                    state = HltState.FAULT
                else:
                    state = HltState.BUSY if now < self._busy_until else HltState.READY
                return Reply(encode(StatReply(state)))
            case MeasRequest(side=side, beam=beam):
                if now < self._busy_until or self._faulted(command):
                    return Reply(self._err(HltErrorCode.BUSY))
                duration = self._rng.uniform(*self.scenario.measure_time_s)
                self._busy_until = now + duration
                return Reply(encode(self.scenario.reading(side, beam)), delay_s=duration)
        raise AssertionError(f"unhandled request {request!r}")

    @staticmethod
    def _err(code: HltErrorCode) -> bytes:
        return encode(ErrReply(code, ERROR_TEXT[code]))

    def _answer_corrupt_request(self, error: Exception) -> bytes | None:
        self.received.append("corrupt")
        return self._err(HltErrorCode.CHECKSUM)

    def _corrupt(self, reply: bytes) -> bytes:
        # Flip the checksum digits' value: the frame stays well formed, only CC is wrong.
        wrong = int(reply[-4:-2], 16) ^ 0x5A
        return reply[:-4] + f"{wrong:02X}".encode() + b"\r\n"

    def _reject(self, command: str, code: int) -> bytes:
        try:
            text = ERROR_TEXT[HltErrorCode(code)]
        except ValueError:
            text = "error"
        return encode(ErrReply(code, text))

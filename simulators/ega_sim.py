"""Exhaust gas analyser simulator (spec section 3) on a pseudo-terminal, driven by an engine script.

``BinaryBenchSimulator`` is the part shared with the opacity meter: the binary framing, NAK 1 for a
request with a bad checksum, NAK 2 for an unknown command, the warm-up (NAK 3 for ZERO and
readings until ``warm_up_s`` simulated seconds have passed) and zeroing (``zero_s`` seconds, NAK 4
busy for readings meanwhile, then STATUS shows zeroed).

The engine script is a list of ``EnginePhase``s (duration, rpm, gas levels, oil temperature,
optional low flow / dilution). It starts at the first READ after warm-up - the moment the probe is
in the tailpipe - and the last phase lasts for ever.

Vehicle after vehicle. The host opens every vehicle's test by asking STATUS (is the analyser warm and
zeroed?) and then only reads until the test ends, so a STATUS after readings means the probe is in
the next car's tailpipe: the answer is still the last car's, and the next READ starts the script
again from its first phase (``next_vehicle`` does the same on purpose). The opacity meter does the
same with its accelerations. So ``tongjian sim ega`` serves one vehicle after another. Given the
``RollerModel`` a dynamometer simulator drives (``engine=``), the readings while the rollers turn are
the engine's exhaust at its speed and load (``simulators.vehicle_on_rollers``), so ASM's NO follows
the absorber's load. Readings carry small deterministic noise: the
same seed and the same time give the same reading. ``EgaScenario.two_speed_idle`` scripts the
GB 18285 procedure: 70 % of rated speed for 30 s, high idle 2500 rpm for 55 s (the host's 15 s of
stabilising and 30 readings, with room for its own delays: a driver releases the pedal when told,
never before), then low idle.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum

from equipment.binary_frame_codec import (
    Ack,
    ChecksumError,
    Frame,
    FrameDecoder,
    Nak,
    NakCode,
)
from equipment.ega_codec import EgaCommand, GasSample, StatusFlags, encode_sample, encode_status
from simulators.serial_device import Fault, Reply, SerialDeviceSimulator
from simulators.vehicle_on_rollers import RollerModel


class BinaryBenchSimulator(SerialDeviceSimulator):
    """STX/ETX framing, NAKs, warm-up and zeroing; subclasses add their readings."""

    COMMANDS: type[IntEnum]

    def __init__(
        self,
        *,
        warm_up_s: float,
        zero_s: float,
        seed: int = 0,
        time_scale: float = 1.0,
        faults: Iterable[Fault] = (),
    ) -> None:
        super().__init__(time_scale=time_scale, faults=faults)
        self.warm_up_s = warm_up_s
        self.zero_s = zero_s
        self.seed = seed
        self._zero_started: float | None = None
        self._zeroed = False
        self._measured_since_status = False

    def _on_start(self) -> None:
        self._zero_started = None
        self._zeroed = False
        self._measured_since_status = False

    def _vehicle_changed(self) -> None:
        """The host asked STATUS after measuring: the next vehicle's test begins (subclasses reset)."""

    @property
    def _codec_errors(self) -> tuple[type[Exception], ...]:
        return (ChecksumError,)

    def _new_decoder(self) -> FrameDecoder:
        return FrameDecoder()

    def _command_name(self, frame: Frame) -> str:
        try:
            return self.COMMANDS(frame.cmd).name.lower()
        except ValueError:
            return "unknown"

    def warmed_up(self) -> bool:
        return self.now() >= self.warm_up_s

    def zeroing(self) -> bool:
        self._settle_zero()
        return self._zero_started is not None

    def _settle_zero(self) -> None:
        if self._zero_started is not None and self.now() >= self._zero_started + self.zero_s:
            self._zero_started = None
            self._zeroed = True

    def status_flags(self) -> StatusFlags:
        self._settle_zero()
        return StatusFlags(warmed_up=self.warmed_up(), zeroed=self._zeroed, leak_check_passed=True)

    def _handle(self, frame: Frame, command: str) -> Reply | None:
        if command == "unknown":
            return Reply(Nak(NakCode.UNKNOWN_COMMAND).encode())
        if command == "status":
            reply = Reply(encode_status(self.status_flags()))
            if self._measured_since_status:
                self._measured_since_status = False
                self._vehicle_changed()
            return reply
        if not self.warmed_up():
            return Reply(Nak(NakCode.NOT_WARMED_UP).encode())
        if self.zeroing():
            return Reply(Nak(NakCode.BUSY).encode())
        if command == "zero":
            self._zero_started = self.now()
            self._zeroed = False
            return Reply(Ack(frame.cmd).encode())
        self._measured_since_status = True
        return Reply(self._reading(frame, command))

    def _reading(self, frame: Frame, command: str) -> bytes:
        raise NotImplementedError

    def _answer_corrupt_request(self, error: Exception) -> bytes | None:
        self.received.append("corrupt")
        return Nak(NakCode.BAD_CHECKSUM).encode()

    def _corrupt(self, reply: bytes) -> bytes:
        # Change the CS byte only: ETX stays in place, so the host sees a checksum error.
        return reply[:-2] + bytes(((reply[-2] + 0x5A) & 0xFF,)) + reply[-1:]

    def _reject(self, command: str, code: int) -> bytes:
        return Nak(code).encode()

    def noise(self, key: int) -> random.Random:
        """A generator that depends only on the seed and ``key`` (e.g. a 100 ms tick)."""
        return random.Random(self.seed * 1_000_003 + key)


@dataclass(frozen=True)
class GasLevels:
    hc_ppm: float
    co_pct: float
    co2_pct: float
    o2_pct: float
    no_ppm: float
    lambda_: float


@dataclass(frozen=True)
class EnginePhase:
    duration_s: float
    rpm: float
    gas: GasLevels
    oil_temp_c: float = 88.0
    low_flow: bool = False
    dilution: bool = False
    label: str = ""


# A healthy, warm, catalysed petrol engine.
CLEAN_HIGH_IDLE = GasLevels(hc_ppm=18, co_pct=0.08, co2_pct=14.6, o2_pct=0.35, no_ppm=60, lambda_=1.005)
CLEAN_LOW_IDLE = GasLevels(hc_ppm=30, co_pct=0.15, co2_pct=14.4, o2_pct=0.45, no_ppm=40, lambda_=1.010)


@dataclass(frozen=True)
class EgaScenario:
    phases: tuple[EnginePhase, ...]
    warm_up_s: float = 30.0
    zero_s: float = 10.0
    # Relative noise on gas values, and absolute on rpm; 0 gives the phase values exactly.
    gas_noise: float = 0.02
    rpm_noise: float = 20.0

    @classmethod
    def two_speed_idle(
        cls,
        *,
        rated_rpm: float = 5500,
        idle_rpm: float = 800,
        high_idle: GasLevels = CLEAN_HIGH_IDLE,
        low_idle: GasLevels = CLEAN_LOW_IDLE,
        **options: float,
    ) -> EgaScenario:
        return cls(
            phases=(
                EnginePhase(30, round(0.7 * rated_rpm), high_idle, label="70% rated speed"),
                EnginePhase(55, 2500, high_idle, label="high idle"),
                EnginePhase(45, idle_rpm, low_idle, label="low idle"),
            ),
            **options,
        )

    def phase_at(self, t: float) -> EnginePhase:
        for phase in self.phases:
            if t < phase.duration_s:
                return phase
            t -= phase.duration_s
        return self.phases[-1]


class GasAnalyserSimulator(BinaryBenchSimulator):
    name = "ega"
    COMMANDS = EgaCommand

    def __init__(
        self,
        scenario: EgaScenario | None = None,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        faults: Iterable[Fault] = (),
        engine: RollerModel | None = None,
    ) -> None:
        self.scenario = scenario or EgaScenario.two_speed_idle()
        # The vehicle on the dynamometer's rollers, shared with the DYN simulator: while its rollers
        # turn, the exhaust is the engine's at its operating point, not the idle script's.
        self.engine = engine
        super().__init__(
            warm_up_s=self.scenario.warm_up_s,
            zero_s=self.scenario.zero_s,
            seed=seed,
            time_scale=time_scale,
            faults=faults,
        )
        self._script_started: float | None = None

    def _on_start(self) -> None:
        super()._on_start()
        self._script_started = None

    def next_vehicle(self, scenario: EgaScenario | None = None) -> None:
        """The next car drives up: its engine script starts at its first READ, from the first phase.

        The analyser keeps its warm-up and zero, as a real one does between cars.
        """
        if scenario is not None:
            self.scenario = scenario
        self._script_started = None

    def _vehicle_changed(self) -> None:
        self.next_vehicle()

    def script_time(self) -> float:
        """Simulated seconds since the engine script started (0 before the first READ)."""
        return 0.0 if self._script_started is None else self.now() - self._script_started

    def _loaded_phase(self) -> EnginePhase | None:
        """The engine on the rollers, as a phase of one instant (None when it is not on them)."""
        engine = self.engine
        if engine is None or engine.rollers_locked:
            return None
        engine.sync()
        if engine.speed_kmh < 1.0:
            return None
        hc, co, co2, o2, no, lambda_ = engine.exhaust()
        return EnginePhase(0.1, engine.rpm, GasLevels(hc, co, co2, o2, no, lambda_), label="on the rollers")

    def sample_at(self, t: float) -> GasSample:
        """The reading the script gives at script time ``t`` (deterministic for a seed), or the
        loaded engine's while it drives the dynamometer's rollers."""
        phase = self._loaded_phase() or self.scenario.phase_at(t)
        rng = self.noise(int(t * 10))  # the analyser updates 10 times a second
        gas = phase.gas

        def jitter(value: float, digits: int) -> float:
            return round(max(0.0, value * (1 + rng.uniform(-1, 1) * self.scenario.gas_noise)), digits)

        co, co2 = jitter(gas.co_pct, 2), jitter(gas.co2_pct, 2)
        return GasSample(
            hc_ppm=jitter(gas.hc_ppm, 0),
            co_pct=co,
            co2_pct=co2,
            o2_pct=jitter(gas.o2_pct, 2),
            no_ppm=jitter(gas.no_ppm, 0),
            lambda_=round(gas.lambda_ * (1 + rng.uniform(-1, 1) * self.scenario.gas_noise / 10), 3),
            rpm=round(max(0.0, phase.rpm + rng.uniform(-1, 1) * self.scenario.rpm_noise)),
            oil_temp_c=round(phase.oil_temp_c, 1),
            low_flow=phase.low_flow,
            # The analyser's own plausibility check (spec: CO + CO2 below 6 %vol).
            dilution=phase.dilution or co + co2 < 6.0,
        )

    def status_flags(self) -> StatusFlags:
        flags = super().status_flags()
        low_flow = self._script_started is not None and self.scenario.phase_at(self.script_time()).low_flow
        return replace(flags, low_flow=low_flow)

    def _reading(self, frame: Frame, command: str) -> bytes:
        if self._script_started is None:
            self._script_started = self.now()
        return encode_sample(self.sample_at(self.script_time()))

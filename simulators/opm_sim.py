"""Smoke opacity meter simulator (spec section 4) on a pseudo-terminal, driven by a free-acceleration script.

The host runs GB 3847 free acceleration as "one reset and peak read per acceleration": here each
PEAK_RESET is the inspector's cue, and ``reaction_s`` later the next acceleration of the scenario
begins - pedal down, rpm from idle to governed speed in ``rise_s``, K rising to that acceleration's
peak, then K falling back over ``fall_s`` while the engine returns to idle. PEAK answers the highest
K since the last PEAK_RESET (exactly the scenario's peak once the acceleration has passed it).
After the scenario's last acceleration the engine stays at idle. Warm-up and zeroing are the gas
analyser's (``BinaryBenchSimulator``). Given the dynamometer's ``RollerModel`` (``engine=``), READ
while the rollers turn gives the smoke of the engine at its load and speed (lug-down).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from equipment.binary_frame_codec import Ack, Frame
from equipment.opm_codec import OpacitySample, OpmCommand, Peak, encode_peak, encode_sample
from simulators.ega_sim import BinaryBenchSimulator
from simulators.serial_device import Fault
from simulators.vehicle_on_rollers import RollerModel

# Effective optical path length (m) linking opacity N and absorption K: N = 100 (1 - e^(-K L)).
PATH_LENGTH_M = 0.43


@dataclass(frozen=True)
class OpmScenario:
    # Peak K (m^-1) of each acceleration in order: purge accelerations first, then the measured ones.
    peaks: tuple[float, ...] = (0.9, 0.8, 0.75, 0.62, 0.58, 0.6)
    idle_k: float = 0.05
    idle_rpm: float = 750
    governed_rpm: float = 4300
    oil_temp_c: float = 85.0
    reaction_s: float = 0.5
    rise_s: float = 1.0
    fall_s: float = 3.0
    warm_up_s: float = 30.0
    zero_s: float = 10.0


@dataclass(frozen=True)
class _Acceleration:
    start: float  # simulated seconds since simulator start
    peak_k: float


class OpacityMeterSimulator(BinaryBenchSimulator):
    name = "opm"
    COMMANDS = OpmCommand

    def __init__(
        self,
        scenario: OpmScenario | None = None,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        faults: Iterable[Fault] = (),
        engine: RollerModel | None = None,
    ) -> None:
        self.scenario = scenario or OpmScenario()
        self.engine = engine  # as for the gas analyser: READ follows the engine on the rollers
        super().__init__(
            warm_up_s=self.scenario.warm_up_s,
            zero_s=self.scenario.zero_s,
            seed=seed,
            time_scale=time_scale,
            faults=faults,
        )
        self._accelerations: list[_Acceleration] = []
        self._reset_at = 0.0

    def _on_start(self) -> None:
        super()._on_start()
        self._accelerations = []
        self._reset_at = 0.0

    def next_vehicle(self, scenario: OpmScenario | None = None) -> None:
        """The next diesel drives up: its accelerations start again from the scenario's first peak."""
        if scenario is not None:
            self.scenario = scenario
        self._accelerations = []
        self._reset_at = self.now()

    def _vehicle_changed(self) -> None:
        self.next_vehicle()

    def _current(self, t: float) -> _Acceleration | None:
        started = [a for a in self._accelerations if a.start <= t]
        return started[-1] if started else None

    def k_at(self, t: float) -> float:
        """Light absorption coefficient K at simulated time ``t`` (piecewise linear, no noise)."""
        s = self.scenario
        acceleration = self._current(t)
        if acceleration is None:
            return s.idle_k
        into = t - acceleration.start
        if into <= s.rise_s:
            return s.idle_k + (acceleration.peak_k - s.idle_k) * into / s.rise_s
        if into <= s.rise_s + s.fall_s:
            return acceleration.peak_k - (acceleration.peak_k - s.idle_k) * (into - s.rise_s) / s.fall_s
        return s.idle_k

    def rpm_at(self, t: float) -> float:
        s = self.scenario
        acceleration = self._current(t)
        into = math.inf if acceleration is None else t - acceleration.start
        if into <= s.rise_s:
            return s.idle_rpm + (s.governed_rpm - s.idle_rpm) * into / s.rise_s
        if into <= s.rise_s + s.fall_s:
            return s.governed_rpm - (s.governed_rpm - s.idle_rpm) * (into - s.rise_s) / s.fall_s
        return s.idle_rpm

    def peak_since_reset(self, now: float) -> float:
        # K is piecewise linear with its maxima at the ends of the window or at an acceleration's
        # peak, so the highest value since the reset is the highest of those points.
        points = [self._reset_at, now]
        points += [
            a.start + self.scenario.rise_s
            for a in self._accelerations
            if self._reset_at <= a.start + self.scenario.rise_s <= now
        ]
        return max(self.k_at(t) for t in points)

    def _on_rollers(self) -> RollerModel | None:
        engine = self.engine
        if engine is None or engine.rollers_locked:
            return None
        engine.sync()
        return engine if engine.speed_kmh >= 1.0 else None

    def sample_at(self, t: float) -> OpacitySample:
        rng = self.noise(int(t * 10))
        loaded = self._on_rollers()
        k_now, rpm_now = (loaded.smoke_k(), loaded.rpm) if loaded else (self.k_at(t), self.rpm_at(t))
        k = round(max(0.0, k_now * (1 + rng.uniform(-0.01, 0.01))), 2)
        return OpacitySample(
            n_pct=round(100 * (1 - math.exp(-k * PATH_LENGTH_M)), 1),
            k_per_m=k,
            rpm=round(rpm_now + rng.uniform(-15, 15)),
            oil_temp_c=self.scenario.oil_temp_c,
        )

    def _reading(self, frame: Frame, command: str) -> bytes:
        now = self.now()
        if command == "read":
            return encode_sample(self.sample_at(now))
        if command == "peak":
            return encode_peak(Peak(round(self.peak_since_reset(now), 2)))
        if command == "peak_reset":
            self._reset_at = now
            index = len(self._accelerations)
            if index < len(self.scenario.peaks):
                start = now + self.scenario.reaction_s
                self._accelerations.append(_Acceleration(start, self.scenario.peaks[index]))
            return Ack(frame.cmd).encode()
        raise AssertionError(f"unhandled command {command}")

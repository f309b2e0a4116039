"""A vehicle on a chassis dynamometer's rollers, as physics: the model the DYN, EGA and OPM simulators share.

Theory of operation. ``RollerModel`` integrates one equation of motion at a fixed step
(``STEP_S``), in simulated seconds::

    m_eff dv/dt = F_drive - F_absorber - F_parasitic - F_tyre - F_brake

* ``m_eff``: the rollers' base inertia plus the drive wheels' own (the vehicle's body stands still);
* ``F_drive``: throttle x the engine's full-load power at its speed / road speed, the engine speed
  following the road speed through the test gear (``kmh_per_1000rpm``), never below idle; the full
  load curve is P(x) = P_rated (x + x^2 - x^3), x = rpm / rated rpm (its maximum is at rated speed),
  and a diesel's governor cuts power linearly to zero between rated and ``governor_cut`` x rated;
* ``F_absorber``: the eddy-current absorber, which only ever brakes. It follows its demand with a
  first-order lag (``absorber_tau_s``): for CONSTANT_POWER demand = P_set / v, CONSTANT_FORCE F_set,
  CONSTANT_SPEED a PI controller on v - v_set; RELEASE none;
* ``F_parasitic``: the machine's own losses, P(v) the line through its 25 and 40 km/h figures / v;
* ``F_tyre``: rolling loss of the drive tyres on the rollers;
* ``F_brake``: the driver braking to stop when told to release with no target speed.

The driver follows the driver's-aid display (``aid_speed_kmh``, ``aid_pedal``) as a person does: the
throttle chases its demand with a lag (``driver_lag_s``); to hold a speed the demand is a PI law on
the speed error; "full throttle" is 1, "release" 0. The lag is why speed wanders when the load
steps, and why the host needs a window and a settling time.

Exhaust follows the engine's operating point: ``exhaust()`` gives gas concentrations (NO rising with
load) and ``smoke_k()`` the diesel's light-absorption coefficient (rising with load and steeply near
full load), so the gas analyser and opacity meter simulators, given the same model, measure what
the dynamometer is doing to the engine.

Time. Nothing here reads a clock except ``sync()``, which advances the model to the shared
simulated time (``(monotonic - origin) / time_scale``) so that several simulators serving the same
vehicle see one state; tests call ``advance(dt)`` directly.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from enum import IntEnum

STEP_S = 0.01
KMH = 3.6  # km/h per m/s


class LoadMode(IntEnum):
    RELEASE = 0
    CONSTANT_POWER = 3
    CONSTANT_FORCE = 4
    CONSTANT_SPEED = 5


class Pedal(IntEnum):
    """The driver's-aid pedal prompt (spec 5 AID_PEDAL)."""

    NONE = 0
    HOLD_SPEED = 1
    FULL_THROTTLE = 2
    RELEASE = 3


@dataclass(frozen=True, slots=True)
class ExhaustProfile:
    """Tailpipe concentrations at idle and how they grow with engine load (0..1 of full load)."""

    hc_ppm: float = 25.0
    co_pct: float = 0.10
    co2_pct: float = 14.5
    o2_pct: float = 0.40
    no_idle_ppm: float = 40.0
    no_full_load_ppm: float = 600.0
    lambda_: float = 1.005
    k_idle: float = 0.05
    k_full_load: float = 0.9  # m^-1


@dataclass(frozen=True, slots=True)
class VehicleModel:
    """The vehicle: the engine, the test gear, the drive tyres, the driver."""

    rated_power_kw: float = 80.0
    rated_rpm: float = 5500.0
    idle_rpm: float = 800.0
    kmh_per_1000rpm: float = 16.0
    diesel: bool = False
    governor_cut: float = 1.1  # diesel: power reaches zero at this multiple of rated speed
    wheel_inertia_kg: float = 40.0
    tyre_loss_n: float = 120.0
    driver_lag_s: float = 0.4
    driver_gain_per_kmh: float = 0.1  # throttle per km/h of speed error
    driver_integral_per_kmh_s: float = 0.05
    exhaust: ExhaustProfile = field(default_factory=ExhaustProfile)

    @property
    def top_speed_kmh(self) -> float:
        """Road speed at the governed (diesel) or rated x 1.1 (petrol) engine speed in the test gear."""
        return self.rated_rpm * self.governor_cut * self.kmh_per_1000rpm / 1000

    def rpm_at(self, speed_kmh: float) -> float:
        return max(self.idle_rpm, speed_kmh * 1000 / self.kmh_per_1000rpm)

    def full_load_kw(self, rpm: float) -> float:
        x = rpm / self.rated_rpm
        power = self.rated_power_kw * max(0.0, x + x * x - x**3)
        if x > 1.0:
            # Above rated speed: a diesel's governor, a petrol engine's rev limiter.
            power *= max(0.0, (self.governor_cut - x) / (self.governor_cut - 1.0))
        return power

    @classmethod
    def petrol_car(cls, **changes: float) -> VehicleModel:
        return cls(**changes)  # type: ignore[arg-type]

    @classmethod
    def diesel_truck(cls, **changes: float) -> VehicleModel:
        defaults: dict[str, object] = {
            "rated_power_kw": 110.0,
            "rated_rpm": 3200.0,
            "idle_rpm": 700.0,
            "kmh_per_1000rpm": 20.0,
            "diesel": True,
            "tyre_loss_n": 250.0,
            "exhaust": ExhaustProfile(
                hc_ppm=40,
                co_pct=0.05,
                co2_pct=8.0,
                o2_pct=10.0,
                no_idle_ppm=200,
                no_full_load_ppm=700,
                k_full_load=0.55,
            ),
        }
        defaults.update(changes)
        return cls(**defaults)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Dynamometer:
    """The machine: roller inertia, absorber, its parasitic losses at 25 and 40 km/h."""

    base_inertia_kg: float = 907.0
    parasitic_25_kw: float = 0.6
    parasitic_40_kw: float = 1.1
    absorber_tau_s: float = 0.05  # spec 5: a load mode takes effect within 0.5 s
    absorber_max_n: float = 12000.0
    speed_kp_n_per_kmh: float = 1500.0
    speed_ki_n_per_kmh_s: float = 1500.0

    def parasitic_kw(self, speed_kmh: float) -> float:
        slope = (self.parasitic_40_kw - self.parasitic_25_kw) / 15.0
        return max(0.0, self.parasitic_25_kw + slope * (speed_kmh - 25.0))


@dataclass
class RollerModel:
    vehicle: VehicleModel = field(default_factory=VehicleModel)
    machine: Dynamometer = field(default_factory=Dynamometer)
    time_scale: float = 1.0
    # State.
    t: float = 0.0
    speed_ms: float = 0.0
    throttle: float = 0.0
    absorber_n: float = 0.0
    distance_m: float = 0.0
    rollers_locked: bool = True  # the lift is up: the wheels stand on it, the rollers cannot turn
    mode: LoadMode = LoadMode.RELEASE
    setpoint_power_kw: float = 0.0
    setpoint_force_n: float = 0.0
    setpoint_speed_kmh: float = 0.0
    aid_speed_kmh: float = 0.0
    aid_pedal: Pedal = Pedal.NONE
    _speed_integral: float = 0.0
    _driver_integral: float = 0.0
    origin: float = field(default_factory=time.monotonic)  # real time of simulated t = 0
    # The dynamometer, gas analyser and opacity meter simulators sync() this one vehicle from
    # their own threads; steps interleaved between them would advance it twice over.
    _stepping: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # Time

    def sync(self) -> None:
        """Advance to the shared simulated time (for simulators serving the same vehicle)."""
        self.advance_to((time.monotonic() - self.origin) / self.time_scale)

    def advance_to(self, t: float) -> None:
        with self._stepping:
            while self.t + STEP_S <= t:
                self._step(STEP_S)

    def advance(self, seconds: float) -> None:
        self.advance_to(self.t + seconds)

    # Readings

    @property
    def speed_kmh(self) -> float:
        return self.speed_ms * KMH

    @property
    def rpm(self) -> float:
        return self.vehicle.rpm_at(self.speed_kmh)

    def parasitic_n(self) -> float:
        if self.speed_ms < 0.1:
            return 0.0
        return self.machine.parasitic_kw(self.speed_kmh) * 1000 / self.speed_ms

    def roller_force_n(self) -> float:
        """Tractive force at the roller surface: what the absorber and the machine's losses take."""
        return self.absorber_n + self.parasitic_n()

    def roller_power_kw(self) -> float:
        return self.roller_force_n() * self.speed_ms / 1000

    def absorbed_power_kw(self) -> float:
        return self.absorber_n * self.speed_ms / 1000

    def engine_power_kw(self) -> float:
        return self.throttle * self.vehicle.full_load_kw(self.rpm)

    def engine_load(self) -> float:
        """Fraction of full load the engine delivers now: throttle, in this model."""
        return self.throttle if self.speed_ms > 0.1 else 0.0

    def mode_held(self) -> bool:
        """Within ±2 % of the setpoint (spec 5 MODE_ACTIVE)."""
        if self.mode is LoadMode.RELEASE or self.speed_ms < 0.3:
            return False
        if self.mode is LoadMode.CONSTANT_POWER:
            return _within(self.absorbed_power_kw(), self.setpoint_power_kw, 0.02, 0.05)
        if self.mode is LoadMode.CONSTANT_FORCE:
            return _within(self.absorber_n, self.setpoint_force_n, 0.02, 5.0)
        return _within(self.speed_kmh, self.setpoint_speed_kmh, 0.02, 0.1)

    def exhaust(self) -> tuple[float, float, float, float, float, float]:
        """(HC ppm, CO %, CO2 %, O2 %, NO ppm, lambda) at the engine's operating point."""
        e = self.vehicle.exhaust
        load = self.engine_load()
        no = e.no_idle_ppm + (e.no_full_load_ppm - e.no_idle_ppm) * load
        return (e.hc_ppm * (1 + 0.3 * load), e.co_pct * (1 + 0.5 * load), e.co2_pct, e.o2_pct, no, e.lambda_)

    def smoke_k(self) -> float:
        e = self.vehicle.exhaust
        load = self.engine_load()
        # A diesel lugged below its rated speed smokes more for the same pedal.
        lugging = 1.0 + 0.3 * max(0.0, 1.0 - self.rpm / self.vehicle.rated_rpm)
        return e.k_idle + (e.k_full_load - e.k_idle) * load**2 * lugging

    # The equation of motion

    def _step(self, dt: float) -> None:
        v = self.speed_ms
        self._drive(dt)
        if self.rollers_locked:
            self.speed_ms = 0.0
            self.absorber_n = 0.0
            self.t += dt
            return
        demand = self._absorber_demand(v, dt)
        self.absorber_n += (demand - self.absorber_n) * min(1.0, dt / self.machine.absorber_tau_s)
        v_for_power = max(v, 1.0)
        drive = self.engine_power_kw() * 1000 / v_for_power
        brake = 3000.0 if self.aid_pedal is Pedal.RELEASE and self.aid_speed_kmh == 0 else 0.0
        resist = (
            self.absorber_n + self.parasitic_n() + (self.vehicle.tyre_loss_n if v > 0.05 else 0.0) + brake
        )
        mass = self.machine.base_inertia_kg + self.vehicle.wheel_inertia_kg
        v_new = v + (drive - resist) * dt / mass
        self.speed_ms = max(0.0, v_new)
        self.distance_m += self.speed_ms * dt
        self.t += dt

    def _absorber_demand(self, v: float, dt: float) -> float:
        m = self.machine
        if self.mode is LoadMode.CONSTANT_POWER:
            demand = self.setpoint_power_kw * 1000 / v if v > 0.5 else 0.0
        elif self.mode is LoadMode.CONSTANT_FORCE:
            demand = self.setpoint_force_n
        elif self.mode is LoadMode.CONSTANT_SPEED:
            error = self.speed_kmh - self.setpoint_speed_kmh
            self._speed_integral = min(
                m.absorber_max_n, max(0.0, self._speed_integral + m.speed_ki_n_per_kmh_s * error * dt)
            )
            demand = m.speed_kp_n_per_kmh * error + self._speed_integral
        else:
            demand = 0.0
        return min(m.absorber_max_n, max(0.0, demand))

    def _drive(self, dt: float) -> None:
        d = self.vehicle
        if self.aid_pedal is Pedal.FULL_THROTTLE:
            wanted = 1.0
        elif self.aid_pedal is Pedal.HOLD_SPEED and self.aid_speed_kmh > 0:
            error = self.aid_speed_kmh - self.speed_kmh
            if 0.0 < d.driver_gain_per_kmh * error + self._driver_integral < 1.0:
                # The pedal is not against a stop: a driver only "learns" the pedal position there.
                self._driver_integral = min(
                    1.0, max(0.0, self._driver_integral + d.driver_integral_per_kmh_s * error * dt)
                )
            wanted = d.driver_gain_per_kmh * error + self._driver_integral
        else:
            wanted = 0.0
            self._driver_integral = 0.0
        wanted = min(1.0, max(0.0, wanted))
        self.throttle += (wanted - self.throttle) * min(1.0, dt / d.driver_lag_s)

    # Commands from the dynamometer's host

    def set_mode(self, mode: LoadMode) -> None:
        if mode is not self.mode:
            self._speed_integral = self.absorber_n if mode is LoadMode.CONSTANT_SPEED else 0.0
        self.mode = mode

    def release(self) -> None:
        self.mode = LoadMode.RELEASE
        self.distance_m = 0.0


def _within(value: float, setpoint: float, relative: float, absolute: float) -> bool:
    return abs(value - setpoint) <= max(relative * abs(setpoint), absolute) and math.isfinite(value)


__all__ = ["Dynamometer", "ExhaustProfile", "LoadMode", "Pedal", "RollerModel", "VehicleModel"]

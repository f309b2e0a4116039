"""What the roller brake tester will measure for one vehicle: per axle loads, forces, drag, curves.

A ``BrakeScenario`` is the vehicle as the bench sees it, axle 1 (front) first. Forces are in daN and
loads in kg (the units of spec 1.2), whole numbers so that both shipped profiles carry them exactly
(uint16 daN, float32 N). ``scenario_for_vehicle`` makes a realistic passing one from the vehicle's
masses (GB 7258 limits from the domain notes: service >= 60 % of the weight, front axle >= 60 %,
imbalance <= 20 %, drag <= 10 %, parking >= 20 %), or, with ``failing``, one that fails on purpose.
Everything is drawn from ``random.Random(seed)``, so one seed always gives the same scenario.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum

from inspection import Vehicle

G = 9.8  # m/s^2, as in the rules (standards.md section 2)
DRIVER_KG = 75.0  # the vehicle is tested with its driver aboard
MAX_SAMPLES = 1000  # spec 1.2: at most 1000 samples per curve


def _dan(mass_kg: float, fraction: float) -> float:
    """``fraction`` of the weight of ``mass_kg``, in whole daN."""
    return float(round(mass_kg * G * fraction / 10))


@dataclass(frozen=True)
class RollerRunScenario:
    """One roller run (service or parking brake of one axle)."""

    left_max_dan: float
    right_max_dan: float
    left_drag_dan: float | None = 5.0  # None: the drag reading is "not available"
    right_drag_dan: float | None = 5.0
    rise_s: float = 1.5  # from pedal to full force
    sample_rate_hz: int = 100
    sample_count: int = 250  # curve length, <= 1000
    # The right side reaching its force this much later than the left (an imbalance during build-up).
    right_lag_s: float = 0.0
    slip_left: bool = False
    slip_right: bool = False
    # A dead force sensor: its curve is all "not available".
    left_sensor_out: bool = False
    right_sensor_out: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.sample_count <= MAX_SAMPLES:
            raise ValueError(f"sample_count must be 0..{MAX_SAMPLES}, not {self.sample_count}")
        if self.sample_rate_hz <= 0 or self.rise_s <= 0:
            raise ValueError("sample_rate_hz and rise_s must be positive")
        if self.left_max_dan < 0 or self.right_max_dan < 0:
            raise ValueError("forces cannot be negative")

    @property
    def duration_s(self) -> float:
        """Pedal to end of test: the length of the curve."""
        return self.sample_count / self.sample_rate_hz

    def force_at(self, side_max: float, t: float, lag_s: float = 0.0) -> float:
        """Force in whole daN ``t`` seconds after the pedal: smooth rise, then the maximum held."""
        x = min(max((t - lag_s) / self.rise_s, 0.0), 1.0)
        return float(round(side_max * (3 * x * x - 2 * x * x * x)))

    def curves(self) -> tuple[tuple[float | None, ...], tuple[float | None, ...]]:
        """(left, right) samples in daN; the last sample is always at the maximum (test ends on it)."""
        left: list[float | None] = []
        right: list[float | None] = []
        for i in range(self.sample_count):
            t = i / self.sample_rate_hz if i < self.sample_count - 1 else math.inf
            left.append(None if self.left_sensor_out else self.force_at(self.left_max_dan, t))
            right.append(
                None if self.right_sensor_out else self.force_at(self.right_max_dan, t, self.right_lag_s)
            )
        return tuple(left), tuple(right)

    @property
    def expected_left_max(self) -> float | None:
        """What the driver should report as the left maximum (the curve's largest sample)."""
        return None if self.left_sensor_out or self.sample_count == 0 else self.left_max_dan

    @property
    def expected_right_max(self) -> float | None:
        return None if self.right_sensor_out or self.sample_count == 0 else self.right_max_dan


@dataclass(frozen=True)
class AxleScenario:
    left_load_kg: float | None
    right_load_kg: float | None
    service: RollerRunScenario
    # None: no parking brake on this axle; a parking run then shows only drag.
    parking: RollerRunScenario | None = None

    def parking_run(self) -> RollerRunScenario:
        if self.parking is not None:
            return self.parking
        return RollerRunScenario(
            0.0, 0.0, self.service.left_drag_dan, self.service.right_drag_dan, sample_count=100
        )


@dataclass(frozen=True)
class BrakeScenario:
    axles: tuple[AxleScenario, ...]
    label: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.axles:
            raise ValueError("a vehicle has at least one axle")


class BrakeFailure(StrEnum):
    """Ways ``scenario_for_vehicle`` can make a vehicle fail the brake test."""

    IMBALANCE = "imbalance"  # front axle left/right differ by ~35 %
    WEAK_SERVICE = "weak-service"  # whole-vehicle service braking ~40 % of the weight
    WEAK_PARKING = "weak-parking"  # parking brake ~10 % of the weight
    DRAG = "drag"  # one wheel drags at ~15 % of its axle load
    SLIP = "slip"  # a front wheel slips before the limit (flag for review)


def _axle_loads(vehicle: Vehicle, total_kg: float, rng: random.Random) -> list[float]:
    if vehicle.axle_count == 1:
        return [total_kg]
    front_share = rng.uniform(0.52, 0.60) if vehicle.axle_count == 2 else rng.uniform(0.25, 0.35)
    rest = (total_kg * (1 - front_share)) / (vehicle.axle_count - 1)
    return [total_kg * front_share] + [rest] * (vehicle.axle_count - 1)


def scenario_for_vehicle(
    vehicle: Vehicle, seed: int, *, failing: BrakeFailure | None = None
) -> BrakeScenario:
    """A deterministic, realistic scenario for ``vehicle``: it passes unless ``failing`` says how not."""
    rng = random.Random(f"brake/{vehicle.vin}/{seed}")
    total_kg = vehicle.curb_mass_kg + DRIVER_KG
    axles = []
    parking_axles = set(vehicle.parking_brake_axles)
    parking_fraction = rng.uniform(0.30, 0.40) if failing is not BrakeFailure.WEAK_PARKING else 0.10
    # Parking force is shared by the parking axles, as a fraction of the whole vehicle's weight.
    parking_per_axle = parking_fraction / max(1, len(parking_axles & set(range(1, vehicle.axle_count + 1))))
    for number, axle_kg in enumerate(_axle_loads(vehicle, total_kg, rng), start=1):
        left_kg = float(round(axle_kg / 2 * rng.uniform(0.98, 1.02)))
        right_kg = float(round(axle_kg - left_kg))
        ratio = (
            rng.uniform(0.68, 0.85) if failing is not BrakeFailure.WEAK_SERVICE else rng.uniform(0.35, 0.42)
        )
        axle_force = _dan(left_kg + right_kg, ratio)
        imbalance = rng.uniform(-0.06, 0.06)
        if failing is BrakeFailure.IMBALANCE and number == 1:
            imbalance = 0.35
        left_max = float(round(axle_force / 2 * (1 + imbalance / 2)))
        right_max = float(round(axle_force / 2 * (1 - imbalance / 2)))
        left_drag = _dan(left_kg * 2, rng.uniform(0.01, 0.03))
        right_drag = _dan(right_kg * 2, rng.uniform(0.01, 0.03))
        if failing is BrakeFailure.DRAG and number == vehicle.axle_count:
            left_drag = _dan(left_kg * 2, 0.15)
        rate = 100
        samples = rng.randint(150, 300)
        service = RollerRunScenario(
            left_max,
            right_max,
            left_drag,
            right_drag,
            rise_s=round(rng.uniform(0.8, 1.4), 2),
            sample_rate_hz=rate,
            sample_count=samples,
            right_lag_s=round(rng.uniform(0.0, 0.05), 2),
            slip_left=failing is BrakeFailure.SLIP and number == 1,
        )
        parking = None
        if number in parking_axles:
            parking_force = _dan(total_kg, parking_per_axle)
            parking = RollerRunScenario(
                float(round(parking_force / 2 * 1.02)),
                float(round(parking_force / 2 * 0.98)),
                left_drag,
                right_drag,
                rise_s=round(rng.uniform(1.0, 1.8), 2),
                sample_rate_hz=rate,
                sample_count=rng.randint(150, 300),
            )
        axles.append(AxleScenario(left_kg, right_kg, service, parking))
    notes = (f"failing: {failing.value}",) if failing else ()
    return BrakeScenario(tuple(axles), label=vehicle.plate, notes=notes)


__all__ = [
    "AxleScenario",
    "BrakeFailure",
    "BrakeScenario",
    "RollerRunScenario",
    "scenario_for_vehicle",
]

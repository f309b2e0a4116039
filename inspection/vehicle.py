"""The vehicle as the inspection knows it: identity, class, fuel and the facts the rules need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class VehicleClass(StrEnum):
    """UN ECE categories, which GB/T 15089 (the Chinese classification) follows."""

    M1 = "M1"  # passenger car, at most 8 seats besides the driver
    M2 = "M2"  # bus, total mass <= 5,000 kg
    M3 = "M3"  # bus, total mass > 5,000 kg
    N1 = "N1"  # goods vehicle <= 3,500 kg
    N2 = "N2"  # goods vehicle <= 12,000 kg
    N3 = "N3"  # goods vehicle > 12,000 kg


class Fuel(StrEnum):
    PETROL = "petrol"
    DIESEL = "diesel"
    ELECTRIC = "electric"
    HYBRID_PETROL = "hybrid_petrol"
    GAS = "gas"


class VehicleUse(StrEnum):
    NON_OPERATING = "non_operating"  # 非营运
    OPERATING = "operating"  # 营运


class LampSystem(StrEnum):
    TWO_LAMP = "two_lamp"
    FOUR_LAMP = "four_lamp"


@dataclass(frozen=True, slots=True)
class Vehicle:
    vin: str
    plate: str
    registration_province: str  # GB/T 2260 code, e.g. "50"
    vehicle_class: VehicleClass
    fuel: Fuel
    seats: int
    use: VehicleUse
    registration_date: date
    curb_mass_kg: int
    max_total_mass_kg: int
    axle_count: int
    parking_brake_axles: tuple[int, ...] = field(default=(2,))  # 1 = frontmost axle
    lamp_system: LampSystem = LampSystem.TWO_LAMP
    articulated: bool = False
    high_beam_separately_adjustable: bool = False
    van: bool = False  # 面包车: never exempt from the lane
    rated_engine_speed_rpm: int | None = None
    # Full-time all-wheel drive that cannot be decoupled: cannot go on a two-roller dynamometer, so
    # it takes the no-load fallback (two-speed idle / free acceleration), GB 18285 / GB 3847.
    full_time_awd: bool = False
    rated_power_kw: int | None = None  # rated engine power: lug-down judges wheel power against it

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
    O1 = "O1"  # trailer <= 750 kg
    O2 = "O2"  # trailer <= 3,500 kg
    O3 = "O3"  # trailer <= 10,000 kg
    O4 = "O4"  # trailer > 10,000 kg
    # 汽车列车: motor vehicle and trailer(s) tested as one (not a UN ECE category). The value fits the
    # hub vehicle register's 8-character class column.
    ROAD_TRAIN = "train"

    @property
    def is_trailer(self) -> bool:
        return self in (VehicleClass.O1, VehicleClass.O2, VehicleClass.O3, VehicleClass.O4)


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
    has_obd: bool = False  # an OBD-II / EOBD / China OBD port: the emission inspection reads it
    # Steered axles (1 = frontmost): the brake rules' front axles (standards.md §10: "front" by
    # position, steered axles flagged per vehicle). None (and the empty tuple, which no motor vehicle
    # has): not recorded - records from before the field are judged by axle count, as they were.
    # A trailer's axles all count as rear, steered or not (§2).
    steered_axles: tuple[int, ...] | None = None
    # Full-time all-wheel drive that cannot be decoupled: cannot go on a two-roller dynamometer, so
    # it takes the no-load fallback (two-speed idle / free acceleration), GB 18285 / GB 3847.
    full_time_awd: bool = False
    rated_power_kw: int | None = None  # rated engine power: lug-down judges wheel power against it

    def __post_init__(self) -> None:
        if self.steered_axles == ():
            object.__setattr__(self, "steered_axles", None)

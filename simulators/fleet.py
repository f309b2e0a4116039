"""A fleet generator: realistic, repeatable vehicles for simulators, tests, benchmarks and the demo.

Seeded: the same seed gives the same fleet. VINs carry a real Chinese manufacturer prefix (WMI) and a
correct check digit; plates use the prefix of the registration province, and new-energy vehicles get
the six-character new-energy plates (D = pure electric, F = hybrid, in the first serial position).
The register's engine number and body colour (``register_identity``) come from a hash of seed and
index, not from the fleet's random stream, so adding them left every earlier fleet as it was.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from inspection import (
    PROVINCES,
    Fuel,
    LampSystem,
    Vehicle,
    VehicleClass,
    VehicleUse,
    validate_plate,
    validate_vin,
    vin_check_digit,
)
from inspection.identifiers import VIN_ALPHABET
from inspection.register_identity import BodyColour, parse_engine_number

# Real world manufacturer identifiers of Chinese plants (ISO 3780 WMI).
_WMIS = ("LSV", "LFV", "LGB", "LVS", "LBV", "LSG", "LGW", "LB3", "LNB", "LC0", "LVH", "LDC", "LZW", "LHG")
# Model-year codes (VIN position 10) cycle through these 30 characters.
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789".replace("Q", "")
_DIGITS = "0123456789"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _ClassProfile:
    vehicle_class: VehicleClass
    weight: float  # share of the fleet
    fuels: tuple[tuple[Fuel, float], ...]
    seats: tuple[int, ...]
    curb_kg: tuple[int, int]
    payload_kg: tuple[int, int]
    axles: tuple[int, ...]


# Shares loosely follow Chinese registrations: mostly small passenger cars.
_CLASSES = (
    _ClassProfile(VehicleClass.M1, 0.80, ((Fuel.PETROL, 0.78), (Fuel.ELECTRIC, 0.12), (Fuel.HYBRID_PETROL, 0.07),
                                          (Fuel.DIESEL, 0.03)), (5, 5, 5, 7), (1150, 2100), (350, 600), (2,)),
    _ClassProfile(VehicleClass.N1, 0.10, ((Fuel.DIESEL, 0.6), (Fuel.PETROL, 0.3), (Fuel.ELECTRIC, 0.1)), (2, 3, 5),
                  (1500, 2200), (800, 1300), (2,)),
    _ClassProfile(VehicleClass.M2, 0.03, ((Fuel.DIESEL, 1.0),), (10, 15, 19), (2600, 3300), (1200, 1700), (2,)),
    _ClassProfile(VehicleClass.M3, 0.02, ((Fuel.DIESEL, 0.7), (Fuel.ELECTRIC, 0.3)), (33, 45, 51), (9000, 12500),
                  (4000, 5500), (2,)),
    _ClassProfile(VehicleClass.N2, 0.03, ((Fuel.DIESEL, 1.0),), (2, 3), (3500, 6000), (4000, 6000), (2,)),
    _ClassProfile(VehicleClass.N3, 0.02, ((Fuel.DIESEL, 1.0),), (2,), (8500, 12500), (12000, 18000), (3, 4)),
)  # fmt: skip

# Registration provinces, weighted towards the ones the demo's hubs serve.
_PROVINCE_WEIGHTS = {"渝": 5.0, "川": 3.0, "京": 1.0, "沪": 1.0, "粤": 2.0}
_PREFIX_OF_PROVINCE = {code: prefix for prefix, code in PROVINCES.items()}


def random_vin(rng: random.Random) -> str:
    """A VIN with a real WMI, random VDS, a model year, and a correct check digit."""
    wmi = rng.choice(_WMIS)
    vds = "".join(rng.choice(VIN_ALPHABET) for _ in range(5))
    vis = rng.choice(_YEAR_CODES) + rng.choice(VIN_ALPHABET) + "".join(rng.choice(_DIGITS) for _ in range(6))
    draft = f"{wmi}{vds}0{vis}"
    return validate_vin(draft[:8] + vin_check_digit(draft) + draft[9:])


def random_plate(rng: random.Random, province_prefix: str, fuel: Fuel) -> str:
    city = rng.choice("ABCDEFGHJKLMN")
    if fuel in (Fuel.ELECTRIC, Fuel.HYBRID_PETROL):
        # Small new-energy cars: D (pure electric) or F (other) + a letter or digit + four digits.
        kind = "D" if fuel is Fuel.ELECTRIC else "F"
        serial = kind + rng.choice(_PLATE_CHARS) + "".join(rng.choice(_DIGITS) for _ in range(4))
    else:
        serial = "".join(rng.choice(_PLATE_CHARS) for _ in range(5))
    return validate_plate(province_prefix + city + serial)


def _weighted(rng: random.Random, choices: tuple[tuple[T, float], ...]) -> T:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights)[0]


def random_vehicle(
    rng: random.Random, *, as_of: date | None = None, province_prefix: str | None = None
) -> Vehicle:
    """One vehicle, registered between 0 and 18 years before ``as_of`` (default: today)."""
    today = as_of or date.today()
    profile = _weighted(rng, tuple((p, p.weight) for p in _CLASSES))
    fuel = _weighted(rng, profile.fuels)
    prefix = province_prefix or _weighted(rng, tuple(_PROVINCE_WEIGHTS.items()))
    seats = rng.choice(profile.seats)
    curb = rng.randint(*profile.curb_kg) // 5 * 5
    total = curb + rng.randint(*profile.payload_kg) // 5 * 5
    axles = rng.choice(profile.axles)
    registered = today - timedelta(days=rng.randint(30, 18 * 365))
    is_car = profile.vehicle_class is VehicleClass.M1
    return Vehicle(
        vin=random_vin(rng),
        plate=random_plate(rng, prefix, fuel),
        registration_province=PROVINCES[prefix],
        vehicle_class=profile.vehicle_class,
        fuel=fuel,
        seats=seats,
        use=VehicleUse.NON_OPERATING if is_car and rng.random() < 0.9 else VehicleUse.OPERATING,
        registration_date=registered,
        curb_mass_kg=curb,
        max_total_mass_kg=total,
        axle_count=axles,
        # The parking brake acts on the rear axle of cars and light vehicles; on the last two of heavy ones.
        parking_brake_axles=(axles,) if axles == 2 else (axles - 1, axles),
        lamp_system=LampSystem.FOUR_LAMP if rng.random() < 0.25 else LampSystem.TWO_LAMP,
        high_beam_separately_adjustable=rng.random() < 0.3,
        van=is_car and seats >= 7 and rng.random() < 0.3,
        rated_engine_speed_rpm=None
        if fuel is Fuel.ELECTRIC
        else rng.choice((5500, 6000, 6200, 6500))
        if fuel is not Fuel.DIESEL
        else rng.choice((3200, 3600, 4000)),
        # From the curb mass, not the generator, so fleets of an earlier seed stay what they were.
        rated_power_kw=None
        if fuel is Fuel.ELECTRIC
        else max(30, round(curb * (0.03 if fuel is Fuel.DIESEL else 0.06))),
    )


def generate_fleet(
    count: int, seed: int = 0, *, as_of: date | None = None, province: str | None = None
) -> list[Vehicle]:
    """``count`` vehicles; the same ``seed`` (and ``as_of``, ``province``) always gives the same fleet.

    ``province`` (GB/T 2260 code, e.g. ``"50"``) registers the whole fleet there: its plate prefix
    and ``registration_province``. Without it, provinces are drawn as before (same seed, same fleet)."""
    prefix = None
    if province is not None:
        prefix = _PREFIX_OF_PROVINCE.get(province)
        if prefix is None:
            raise ValueError(f"province {province!r} is not a GB/T 2260 province code")
    rng = random.Random(seed)
    return [random_vehicle(rng, as_of=as_of, province_prefix=prefix) for _ in range(count)]


def owner_reference(seed: int, index: int) -> str:
    """A stable pseudonymous owner reference for vehicle ``index`` of fleet ``seed``: never a name.

    Derived by hashing, so it says nothing about anyone and is the same on every run."""
    digest = hashlib.sha256(f"tongjian-fleet-owner/{seed}/{index}".encode()).hexdigest()
    return f"OWN-{digest[:16]}"


# Engine (and, for electric cars, motor) type codes as stamped before the serial, by fuel.
_ENGINE_FAMILIES: dict[Fuel, tuple[str, ...]] = {
    Fuel.PETROL: ("EA211", "EA888", "G4FC", "JL4G18", "4G15", "L4H", "LJO", "SQRE4G16"),
    Fuel.DIESEL: ("WP10", "YC6L", "4D20", "D4CB", "CA4DD", "YN4100"),
    Fuel.ELECTRIC: ("TZ220XS", "YS210", "TZ180XSF", "BYD1814"),
    Fuel.HYBRID_PETROL: ("BYD472QA", "G4NG", "JLH4G15"),
}
# Colour classes as registered, weighted as a Chinese car park is painted (silver is grey).
_COLOURS: tuple[tuple[BodyColour, float], ...] = (
    (BodyColour.WHITE, 0.36), (BodyColour.BLACK, 0.20), (BodyColour.GREY, 0.20),
    (BodyColour.BLUE, 0.07), (BodyColour.RED, 0.07), (BodyColour.BROWN, 0.03),
    (BodyColour.GREEN, 0.02), (BodyColour.YELLOW, 0.02), (BodyColour.OTHER, 0.03),
)  # fmt: skip


def register_identity(seed: int, index: int, vehicle: Vehicle) -> tuple[str, BodyColour]:
    """The engine number and body colour the register records for vehicle ``index`` of fleet
    ``seed``: a type code of the vehicle's fuel and a seven-digit serial, and a weighted colour."""
    rng = random.Random(hashlib.sha256(f"tongjian-fleet-identity/{seed}/{index}".encode()).digest())
    families = _ENGINE_FAMILIES.get(vehicle.fuel, _ENGINE_FAMILIES[Fuel.PETROL])
    engine_number = parse_engine_number(f"{rng.choice(families)}{rng.randrange(10**7):07d}")
    return engine_number, _weighted(rng, _COLOURS)

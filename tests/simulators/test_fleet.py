"""The fleet generator: valid identifiers, plausible vehicles, repeatable by seed."""

from __future__ import annotations

from datetime import date

from inspection import PROVINCES, Fuel, validate_plate, validate_vin
from simulators.fleet import generate_fleet

AS_OF = date(2026, 11, 25)


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    assert generate_fleet(50, seed=7, as_of=AS_OF) == generate_fleet(50, seed=7, as_of=AS_OF)
    assert generate_fleet(50, seed=7, as_of=AS_OF) != generate_fleet(50, seed=8, as_of=AS_OF)


def test_every_vehicle_is_valid_and_plausible() -> None:
    fleet = generate_fleet(2000, seed=1, as_of=AS_OF)
    assert len({v.vin for v in fleet}) == len(fleet)
    for vehicle in fleet:
        assert validate_vin(vehicle.vin) == vehicle.vin
        assert validate_plate(vehicle.plate) == vehicle.plate
        assert PROVINCES[vehicle.plate[0]] == vehicle.registration_province
        assert vehicle.curb_mass_kg < vehicle.max_total_mass_kg
        assert all(1 <= axle <= vehicle.axle_count for axle in vehicle.parking_brake_axles)
        assert vehicle.registration_date < AS_OF
        new_energy = vehicle.fuel in (Fuel.ELECTRIC, Fuel.HYBRID_PETROL)
        assert len(vehicle.plate) == (8 if new_energy else 7)
    fuels = {v.fuel for v in fleet}
    assert {Fuel.PETROL, Fuel.DIESEL, Fuel.ELECTRIC} <= fuels

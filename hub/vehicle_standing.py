"""A registered vehicle's standing for exemption: the facts the registration province holds
beyond the register (compulsory insurance, vehicle tax, unresolved violations and accidents,
an accident with casualties), and ``exemption_facts``, which joins them with the register into
the plain data ``inspection.exemption_rules`` decides on.

A vehicle with no standing row is judged on the cautious side: no insurance on record and tax
not known paid, so an application is refused with those reasons rather than granted blind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from hub.db import Database
from hub.errors import UnknownVehicle
from hub.models import VehicleStanding
from hub.vehicle_register import RegisteredVehicle, VehicleRegister
from inspection.exemption_rules import ExemptionFacts
from inspection.inspection_schedule import ScheduledVehicle


@dataclass(frozen=True, slots=True)
class Standing:
    insurance_valid_until: date | None
    vehicle_tax_paid: bool
    unresolved_violations: int
    unresolved_accidents: int
    casualty_accident: bool


UNKNOWN_STANDING = Standing(None, False, 0, 0, False)


class StandingBook:
    def __init__(self, database: Database) -> None:
        self._database = database

    def set(self, vin: str, standing: Standing, at: datetime | None = None) -> None:
        if standing.unresolved_violations < 0 or standing.unresolved_accidents < 0:
            raise ValueError("counts of unresolved violations and accidents are never negative")
        with self._database.write() as session:
            row = session.get(VehicleStanding, vin)
            if row is None:
                row = VehicleStanding(vin=vin)
                session.add(row)
            row.insurance_valid_until = standing.insurance_valid_until
            row.vehicle_tax_paid = standing.vehicle_tax_paid
            row.unresolved_violations = standing.unresolved_violations
            row.unresolved_accidents = standing.unresolved_accidents
            row.casualty_accident = standing.casualty_accident
            row.updated_at = at or datetime.now(UTC)

    def get(self, vin: str) -> Standing | None:
        with self._database.read() as session:
            row = session.get(VehicleStanding, vin)
            if row is None:
                return None
            return Standing(
                row.insurance_valid_until,
                row.vehicle_tax_paid,
                row.unresolved_violations,
                row.unresolved_accidents,
                row.casualty_accident,
            )


def facts_of(registered: RegisteredVehicle, standing: Standing | None) -> ExemptionFacts:
    vehicle = registered.vehicle
    known = standing or UNKNOWN_STANDING
    return ExemptionFacts(
        vehicle=ScheduledVehicle(
            vehicle.vehicle_class, vehicle.use, vehicle.seats, vehicle.van, vehicle.registration_date
        ),
        casualty_accident=known.casualty_accident,
        insurance_valid_until=known.insurance_valid_until,
        vehicle_tax_paid=known.vehicle_tax_paid,
        unresolved_violations=known.unresolved_violations,
        unresolved_accidents=known.unresolved_accidents,
    )


def exemption_facts(
    register: VehicleRegister, standing: StandingBook, vin: str
) -> tuple[RegisteredVehicle, ExemptionFacts]:
    """The register entry and the exemption facts of ``vin``; ``UnknownVehicle`` if not registered here."""
    registered = register.get(vin)
    if registered is None:
        raise UnknownVehicle(vin)
    return registered, facts_of(registered, standing.get(registered.vehicle.vin))

"""Applying for an exemption label at the registration hub: facts from the register and the
vehicle's standing, decided by the pure rules, one label per vehicle and due point."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from elabel.keys import HubLabelKey
from elabel.trust_cache import HubKey, TrustCache
from elabel.verifier import check_label
from hub.errors import UnknownVehicle
from hub.exemption import ExemptionDesk, LocalRegistration
from hub.label_book import LabelBook
from hub.store import HubStore
from hub.vehicle_standing import Standing, StandingBook
from inspection import Fuel, Vehicle, VehicleClass, VehicleUse
from inspection.exemption_rules import RefusalReason
from inspection.vehicle_register_csv import RegisterRow

pytestmark = pytest.mark.asyncio
VIN = "LFV2A21KXNA000017"
APPLIED = date(2025, 2, 1)  # registered 2023-03-15: the year-2 window is open


def car(**changes: object) -> Vehicle:
    vehicle = Vehicle(
        vin=VIN,
        plate="渝A00017",
        registration_province="50",
        vehicle_class=VehicleClass.M1,
        fuel=Fuel.PETROL,
        seats=5,
        use=VehicleUse.NON_OPERATING,
        registration_date=date(2023, 3, 15),
        curb_mass_kg=1350,
        max_total_mass_kg=1800,
        axle_count=2,
    )
    return dataclasses.replace(vehicle, **changes)  # type: ignore[arg-type]


CLEAN = Standing(date(2025, 12, 31), True, 0, 0, False)


@pytest.fixture
def store(database_url: str) -> HubStore:
    hub = HubStore(database_url)
    hub.migrate()
    return hub


def desk_for(
    store: HubStore, vehicle: Vehicle, standing: Standing | None
) -> tuple[ExemptionDesk, LocalRegistration, LabelBook]:
    store.vehicles.import_rows([RegisterRow(2, vehicle, "owner-17")], "50")
    standings = StandingBook(store.database)
    if standing is not None:
        standings.set(vehicle.vin, standing)
    book = LabelBook(store.database, HubLabelKey("50", Ed25519PrivateKey.generate()))
    return (
        ExemptionDesk(book, lambda: datetime(2025, 2, 1, 3, 0, tzinfo=UTC)),
        LocalRegistration(store.vehicles, standings, book),
        book,
    )


async def test_a_clean_young_car_gets_one_label_however_often_it_applies(store: HubStore) -> None:
    desk, registration, book = desk_for(store, car(), CLEAN)
    first = await desk.apply(VIN, registration)
    assert first.decision.granted and first.label is not None
    assert (first.label.claims.valid_from, first.label.claims.valid_until) == (APPLIED, date(2027, 3, 15))
    again = await desk.apply(VIN.lower(), registration)
    assert again.label == first.label and len(book.by_vin(VIN)) == 1
    cache = TrustCache((HubKey("50", book.key.public_key),))
    assert check_label(first.label.token, cache, datetime(2026, 1, 1, tzinfo=UTC), vin=VIN).valid


async def test_a_refusal_lists_every_reason_and_issues_nothing(store: HubStore) -> None:
    standing = dataclasses.replace(CLEAN, unresolved_violations=3, casualty_accident=True)
    desk, registration, book = desk_for(store, car(van=True), standing)
    outcome = await desk.apply(VIN, registration)
    assert outcome.label is None
    assert outcome.decision.reasons == (
        RefusalReason.VAN,
        RefusalReason.CASUALTY_ACCIDENT,
        RefusalReason.UNRESOLVED_VIOLATIONS,
    )
    assert book.by_vin(VIN) == []


async def test_no_standing_on_record_is_refused_cautiously(store: HubStore) -> None:
    desk, registration, _ = desk_for(store, car(), None)
    reasons = (await desk.apply(VIN, registration)).decision.reasons
    assert reasons == (RefusalReason.INSURANCE_NOT_VALID, RefusalReason.VEHICLE_TAX_UNPAID)


async def test_an_unregistered_vehicle_is_named(store: HubStore) -> None:
    desk, registration, _ = desk_for(store, car(), CLEAN)
    with pytest.raises(UnknownVehicle, match="LFV2A21K9NA000025"):
        await desk.apply("LFV2A21K9NA000025", registration)

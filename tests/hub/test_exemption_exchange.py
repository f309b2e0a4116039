"""The registration hub's side of a cross-province exemption: facts out, a peer's label checked
and recorded once; the facts message round-trips and malformed facts are named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from elabel.claims import LabelType
from elabel.keys import HubLabelKey
from elabel.label_text import sign_label
from elabel.trust_cache import HubKey, TrustCache
from hub.errors import UnknownVehicle
from hub.exemption import LabelledVehicle, exemption_label
from hub.exemption_exchange import (
    ExemptionExchangeError,
    facts_from_proto,
    facts_reply,
    facts_to_proto,
    record_peer_label,
)
from hub.label_book import LabelRegistry
from hub.store import HubStore
from hub.vehicle_standing import Standing, StandingBook
from inspection import Fuel, Vehicle, VehicleClass, VehicleUse
from inspection.exemption_rules import ExemptionFacts
from inspection.inspection_schedule import ScheduledVehicle
from inspection.vehicle_register_csv import RegisterRow

VIN = "LFV2A21KXNA000017"
APPLIED = date(2025, 2, 1)
CAR = Vehicle(
    VIN,
    "渝A00017",
    "50",
    VehicleClass.M1,
    Fuel.PETROL,
    5,
    VehicleUse.NON_OPERATING,
    date(2023, 3, 15),
    1350,
    1800,
    2,
)


@pytest.fixture
def store(database_url: str) -> HubStore:
    hub = HubStore(database_url)
    hub.migrate()
    hub.vehicles.import_rows([RegisterRow(2, CAR, "owner-17")], "50")
    StandingBook(hub.database).set(VIN, Standing(date(2025, 12, 31), True, 0, 0, False))
    return hub


@pytest.fixture
def peer() -> HubLabelKey:
    return HubLabelKey("51", Ed25519PrivateKey.generate())


def peer_label(store: HubStore, peer: HubLabelKey, day: date = APPLIED) -> tuple[str, date]:
    """What the serving hub (province 51) does with the facts it was sent."""
    vehicle, facts = facts_from_proto(facts_reply(store.vehicles, StandingBook(store.database), VIN))
    decision, label = exemption_label(facts, vehicle, day, "51", datetime(2025, 2, 1, tzinfo=UTC))
    assert decision.granted and label is not None
    return sign_label(label.claims, peer), label.due


def test_a_peers_label_is_recorded_once(store: HubStore, peer: HubLabelKey) -> None:
    trust = TrustCache((HubKey("51", peer.public_key),))
    labels = LabelRegistry(store.database)
    token, due = peer_label(store, peer)
    first = record_peer_label(labels, store.vehicles, trust, token, due.isoformat())
    assert first.token == token and first.claims.issuer_province == "51"
    other = HubLabelKey("52", Ed25519PrivateKey.generate())
    trust_both = TrustCache((*trust.hub_keys, HubKey("52", other.public_key)))
    second_token = sign_label(dataclasses.replace(first.claims, issuer_province="52", serial="52-E-x"), other)
    again = record_peer_label(labels, store.vehicles, trust_both, second_token, due.isoformat())
    assert again.token == token and len(labels.by_vin(VIN)) == 1


def test_labels_that_do_not_hold_are_refused(store: HubStore, peer: HubLabelKey) -> None:
    labels = LabelRegistry(store.database)
    token, due = peer_label(store, peer)
    with pytest.raises(ExemptionExchangeError, match="unknown issuer"):
        record_peer_label(labels, store.vehicles, TrustCache(()), token, due.isoformat())
    trust = TrustCache((HubKey("51", peer.public_key),))
    with pytest.raises(ExemptionExchangeError, match="is not the label due point"):
        record_peer_label(labels, store.vehicles, trust, token, "2025-03-16")
    with pytest.raises(ExemptionExchangeError, match="not YYYY-MM-DD"):
        record_peer_label(labels, store.vehicles, trust, token, "soon")
    from elabel.verifier import signed_claims

    claims, _ = signed_claims(token, trust)
    inspection = sign_label(dataclasses.replace(claims, label_type=LabelType.INSPECTION), peer)
    with pytest.raises(ExemptionExchangeError, match="inspection label"):
        record_peer_label(labels, store.vehicles, trust, inspection, due.isoformat())
    longer = sign_label(dataclasses.replace(claims, valid_until=date(2029, 3, 15)), peer)
    with pytest.raises(ExemptionExchangeError, match="next due date is 2027-03-15"):
        record_peer_label(labels, store.vehicles, trust, longer, due.isoformat())
    stranger = sign_label(dataclasses.replace(claims, vin="LFV2A21K9NA000025"), peer)
    with pytest.raises(UnknownVehicle):
        record_peer_label(labels, store.vehicles, trust, stranger, due.isoformat())
    assert labels.by_vin(VIN) == []


@given(
    st.sampled_from(list(VehicleClass)),
    st.sampled_from(list(VehicleUse)),
    st.integers(min_value=1, max_value=60),
    st.booleans(),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)),
    st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)),
    st.booleans(),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.booleans(),
)
def test_facts_round_trip(
    cls: VehicleClass,
    use: VehicleUse,
    seats: int,
    van: bool,
    registered: date,
    insured: date | None,
    tax: bool,
    violations: int,
    accidents: int,
    casualty: bool,
) -> None:
    vehicle = LabelledVehicle(VIN, "渝A00017", cls)
    facts = ExemptionFacts(
        ScheduledVehicle(cls, use, seats, van, registered), casualty, insured, tax, violations, accidents
    )
    assert facts_from_proto(facts_to_proto(vehicle, facts)) == (vehicle, facts)


def test_malformed_facts_are_named() -> None:
    message = facts_to_proto(
        LabelledVehicle(VIN, "渝A00017", VehicleClass.M1),
        ExemptionFacts(
            ScheduledVehicle(VehicleClass.M1, VehicleUse.NON_OPERATING, 5, False, date(2023, 3, 15)),
            False,
            None,
            True,
            0,
            0,
        ),
    )
    message.registration_date = "15/03/2023"
    with pytest.raises(ExemptionExchangeError, match=VIN):
        facts_from_proto(message)
    message.registration_date, message.vehicle_class = "2023-03-15", "Z9"
    with pytest.raises(ExemptionExchangeError, match="Z9"):
        facts_from_proto(message)

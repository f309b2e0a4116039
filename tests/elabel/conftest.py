"""Keys, claims and caches for the e-label tests: real Ed25519 keys, made fresh per test."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from elabel.claims import LabelClaims, LabelType
from elabel.keys import HubLabelKey
from elabel.trust_cache import HubKey, TrustCache
from inspection.vehicle import VehicleClass


@pytest.fixture
def hub_key() -> HubLabelKey:
    return HubLabelKey("50", Ed25519PrivateKey.generate())


@pytest.fixture
def claims() -> LabelClaims:
    return LabelClaims(
        label_type=LabelType.EXEMPTION,
        vin="LSVAB4187ES123456",
        plate="渝A12345",
        vehicle_class=VehicleClass.M1,
        valid_from=date(2025, 2, 1),
        valid_until=date(2027, 3, 15),
        issuer_province="50",
        serial="50-E-000001",
        issued_at=datetime(2025, 2, 1, 2, 30, tzinfo=UTC),
    )


@pytest.fixture
def cache(hub_key: HubLabelKey) -> TrustCache:
    return TrustCache((HubKey(hub_key.province, hub_key.public_key),))

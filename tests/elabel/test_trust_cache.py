"""The offline trust cache: round trip, and every malformed file named with what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elabel.errors import TrustCacheError
from elabel.keys import HubLabelKey
from elabel.revocation import Revocation, RevocationList, sign_revocation_list
from elabel.trust_cache import TrustCache, load_trust_cache, save_trust_cache


def test_a_cache_round_trips_with_its_signed_lists(
    hub_key: HubLabelKey, cache: TrustCache, tmp_path: Path
) -> None:
    when = datetime(2026, 5, 1, tzinfo=UTC)
    listing = RevocationList("50", when, (Revocation("50-I-7", when, "post-review rejected"),))
    full = TrustCache(cache.hub_keys, {"50": sign_revocation_list(listing, hub_key)}, when)
    path = tmp_path / "trust.json"
    save_trust_cache(full, path)
    loaded = load_trust_cache(path)
    assert loaded == full
    assert loaded.revocation_list("50") == listing
    assert loaded.key_by_kid(hub_key.kid) == cache.hub_keys[0]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "not a trust cache of format 1"),
        ('{"format": 1, "hub_keys": {}}', "hub_keys is not a list"),
        ('{"format": 1, "hub_keys": [{"province": "50"}]}', r"hub_keys\[0\] is not"),
        ('{"format": 1, "hub_keys": [{"province": "50", "public_key": "abcd"}]}', "32 bytes"),
        ('{"format": 1, "hub_keys": [], "revocation_lists": {"50": "***"}}', "not base64"),
        ('{"format": 1, "hub_keys": [], "synced_at": "yesterday"}', "not an ISO time"),
        ("{", "not a readable JSON file"),
    ],
)
def test_malformed_caches_are_named(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(document)
    with pytest.raises(TrustCacheError, match=message):
        load_trust_cache(path)


def test_a_missing_cache_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(TrustCacheError, match="label sync"):
        load_trust_cache(tmp_path / "none.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.fixed_dictionaries(
        {"format": st.just(1)},
        optional={"hub_keys": json_values, "revocation_lists": json_values, "synced_at": json_values},
    )
)
def test_any_json_loads_or_is_refused_by_name(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(document))
    try:
        load_trust_cache(path)
    except TrustCacheError as exc:
        assert str(exc).startswith(str(path))

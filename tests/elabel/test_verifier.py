"""Labels sign and verify; each way a label can be bad is reported as itself."""

from __future__ import annotations

import dataclasses
import zlib
from datetime import UTC, datetime, timedelta

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cwt import COSE, COSEKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elabel.claims import CHINA_TIME, LabelClaims
from elabel.envelope import CONTENT_TYPE_LABEL, CONTENT_TYPE_REVOCATION_LIST, sign_envelope
from elabel.errors import LabelFault
from elabel.keys import HubLabelKey
from elabel.label_text import PREFIX, sign_label
from elabel.revocation import Revocation, RevocationList, sign_revocation_list
from elabel.trust_cache import HubKey, TrustCache
from elabel.verifier import check_label

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def text_of(cose: bytes) -> str:
    return PREFIX + base45.b45encode(zlib.compress(cose)).decode()


def test_a_signed_label_verifies_and_reads_back_its_claims(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    token = sign_label(claims, hub_key)
    assert token.startswith(PREFIX) and all(c in BASE45 for c in token[len(PREFIX) :])
    check = check_label(token, cache, NOW, vin=claims.vin)
    assert check.valid and check.claims == claims
    assert check.notes == ("revocation not checked: no revocation list of hub 50 cached",)


def test_one_changed_character_makes_it_altered(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    token = sign_label(claims, hub_key)
    position = len(token) // 2
    changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    check = check_label(changed, cache, NOW)
    assert check.faults == (LabelFault.ALTERED,) and check.claims is None


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_one_changed_character_fails(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache, data: st.DataObject
) -> None:
    token = sign_label(claims, hub_key)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from(BASE45).filter(lambda c: c != token[position]))
    check = check_label(token[:position] + replacement + token[position + 1 :], cache, NOW)
    assert not check.valid
    assert check.faults[0] in (LabelFault.ALTERED, LabelFault.FORGED)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text_is_judged_never_raises(text: str) -> None:
    check = check_label(text, TrustCache(()), NOW)
    assert not check.valid and check.faults[0] in (LabelFault.ALTERED, LabelFault.UNKNOWN_ISSUER)


def test_a_label_signed_with_another_key_under_the_hubs_key_id_is_forged(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    forger = HubLabelKey("50", Ed25519PrivateKey.generate())
    signing = forger.cose_signing_key()
    impostor = COSEKey.new({**signing.to_dict(), 2: hub_key.kid})
    cose = COSE.new().encode_and_sign(
        cbor2.dumps(claims.to_cwt()), impostor, protected={1: -8, 3: CONTENT_TYPE_LABEL, 4: hub_key.kid}
    )
    assert isinstance(cose, bytes)
    token = text_of(cose)
    check = check_label(token, cache, NOW)
    assert check.faults == (LabelFault.FORGED,)
    assert "not hub 50's key" in check.problems[0].detail


def test_a_hub_signing_for_another_province_is_forged(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    cose = sign_envelope(
        dataclasses.replace(claims, issuer_province="31").to_cwt(), hub_key, CONTENT_TYPE_LABEL
    )
    token = text_of(cose)
    assert check_label(token, cache, NOW).faults == (LabelFault.FORGED,)


def test_a_revocation_list_is_not_a_label(hub_key: HubLabelKey, cache: TrustCache) -> None:
    cose = sign_envelope({1: "50", 6: 0, -70010: []}, hub_key, CONTENT_TYPE_REVOCATION_LIST)
    token = text_of(cose)
    assert check_label(token, cache, NOW).faults == (LabelFault.ALTERED,)


def test_an_unknown_key_id_is_an_unknown_issuer(hub_key: HubLabelKey, claims: LabelClaims) -> None:
    other = TrustCache((HubKey("31", HubLabelKey("31", Ed25519PrivateKey.generate()).public_key),))
    check = check_label(sign_label(claims, hub_key), other, NOW)
    assert check.faults == (LabelFault.UNKNOWN_ISSUER,)
    assert hub_key.kid.hex() in check.problems[0].detail


@pytest.mark.parametrize(
    ("moment", "faults"),
    [
        (datetime(2025, 1, 31, 23, 59, 59, tzinfo=CHINA_TIME), (LabelFault.NOT_YET_VALID,)),
        (datetime(2025, 2, 1, 0, 0, tzinfo=CHINA_TIME), ()),
        (datetime(2027, 3, 15, 23, 59, 59, tzinfo=CHINA_TIME), ()),
        (datetime(2027, 3, 16, 0, 0, tzinfo=CHINA_TIME), (LabelFault.EXPIRED,)),
    ],
)
def test_validity_runs_whole_days_of_china_time(
    hub_key: HubLabelKey,
    claims: LabelClaims,
    cache: TrustCache,
    moment: datetime,
    faults: tuple[LabelFault, ...],
) -> None:
    assert check_label(sign_label(claims, hub_key), cache, moment).faults == faults


def test_the_wrong_vehicle_is_named(hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache) -> None:
    check = check_label(sign_label(claims, hub_key), cache, NOW, vin="LFV2A21K8A3000001")
    assert check.faults == (LabelFault.WRONG_VEHICLE,)
    assert claims.vin in check.problems[0].detail


def revoked_cache(hub_key: HubLabelKey, cache: TrustCache, serials: tuple[str, ...]) -> TrustCache:
    when = datetime(2026, 5, 1, tzinfo=UTC)
    listing = RevocationList(
        "50", when + timedelta(days=1), tuple(Revocation(s, when, "post-review") for s in serials)
    )
    return dataclasses.replace(cache, signed_revocation_lists={"50": sign_revocation_list(listing, hub_key)})


def test_a_revoked_label_is_revoked_as_of_the_lists_date(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    check = check_label(sign_label(claims, hub_key), revoked_cache(hub_key, cache, (claims.serial,)), NOW)
    assert check.faults == (LabelFault.REVOKED,)
    assert "post-review" in check.problems[0].detail and "as of 2026-05-02" in check.problems[0].detail


def test_a_label_not_on_the_list_says_as_of_when(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    check = check_label(sign_label(claims, hub_key), revoked_cache(hub_key, cache, ("50-E-999",)), NOW)
    assert check.valid and check.notes == ("not revoked as of 2026-05-02T00:00:00+00:00",)


def test_every_claim_level_problem_is_listed(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    late = datetime(2030, 1, 1, tzinfo=UTC)
    revoked = revoked_cache(hub_key, cache, (claims.serial,))
    check = check_label(sign_label(claims, hub_key), revoked, late, vin="LFV2A21K8A3000001")
    assert check.faults == (LabelFault.REVOKED, LabelFault.EXPIRED, LabelFault.WRONG_VEHICLE)


def test_a_list_signed_by_someone_else_is_not_believed(
    hub_key: HubLabelKey, claims: LabelClaims, cache: TrustCache
) -> None:
    stranger = HubLabelKey("50", Ed25519PrivateKey.generate())
    listing = RevocationList("50", NOW, ())
    tampered = dataclasses.replace(
        cache, signed_revocation_lists={"50": sign_revocation_list(listing, stranger)}
    )
    check = check_label(sign_label(claims, hub_key), tampered, NOW)
    assert check.valid and check.notes[0].startswith("revocation not checked: revocation list of hub 50")

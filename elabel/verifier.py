"""Why a label is good or bad, offline: from its text, a trust cache and the time of the check.

The checks run in the order a forger would have to defeat them: the text must decode (else
ALTERED), its key id must be a trusted hub key (UNKNOWN_ISSUER), the signature must be that key's
and the issuer claim the key's province (FORGED). Only then are the claims believed, and every
claim-level problem is listed, not only the first: REVOKED (as of the list's date), NOT_YET_VALID,
EXPIRED, WRONG_VEHICLE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from elabel.claims import LabelClaims, claims_from_cwt
from elabel.envelope import CONTENT_TYPE_LABEL, open_envelope, verify_envelope
from elabel.errors import (
    ClaimsError,
    EnvelopeDamaged,
    LabelFault,
    LabelInvalid,
    RevocationListInvalid,
    SignatureMismatch,
)
from elabel.label_text import cose_of_text
from elabel.trust_cache import HubKey, TrustCache


@dataclass(frozen=True, slots=True)
class Problem:
    fault: LabelFault
    detail: str


@dataclass(frozen=True, slots=True)
class LabelCheck:
    claims: LabelClaims | None  # None when the label could not be believed at all
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]  # what the check could not establish (e.g. no revocation list)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def faults(self) -> tuple[LabelFault, ...]:
        return tuple(p.fault for p in self.problems)


def _refused(fault: LabelFault, detail: str) -> LabelCheck:
    return LabelCheck(None, (Problem(fault, detail),), ())


def signed_claims(text: str, cache: TrustCache) -> tuple[LabelClaims, HubKey]:
    """The claims of a label whose signature holds, and the key that signed it; ``LabelInvalid``
    (altered, unknown issuer or forged) otherwise. Says nothing of time, vehicle or revocation."""
    try:
        cose = cose_of_text(text)
        envelope = open_envelope(cose)
    except EnvelopeDamaged as exc:
        raise LabelInvalid(LabelFault.ALTERED, str(exc)) from exc
    if envelope.content_type != CONTENT_TYPE_LABEL:
        raise LabelInvalid(LabelFault.ALTERED, f"content type {envelope.content_type!r} is not a label's")
    key = cache.key_by_kid(envelope.kid)
    if key is None:
        raise LabelInvalid(LabelFault.UNKNOWN_ISSUER, f"key id {envelope.kid.hex()} is not in the trust list")
    try:
        claims = claims_from_cwt(verify_envelope(cose, key.public_key))
    except SignatureMismatch as exc:
        detail = f"the signature is not hub {key.province}'s key {key.kid.hex()}"
        raise LabelInvalid(LabelFault.FORGED, detail) from exc
    except (EnvelopeDamaged, ClaimsError) as exc:
        raise LabelInvalid(LabelFault.ALTERED, str(exc)) from exc
    if claims.issuer_province != key.province:
        detail = f"claims issuer {claims.issuer_province} but is signed with hub {key.province}'s key"
        raise LabelInvalid(LabelFault.FORGED, detail)
    return claims, key


def check_label(text: str, cache: TrustCache, now: datetime, vin: str | None = None) -> LabelCheck:
    try:
        claims, key = signed_claims(text, cache)
    except LabelInvalid as exc:
        return _refused(exc.fault, exc.detail)

    problems: list[Problem] = []
    notes: list[str] = []
    try:
        revocations = cache.revocation_list(key.province)
    except RevocationListInvalid as exc:
        revocations = None
        notes.append(f"revocation not checked: {exc}")
    if revocations is None and not notes:
        notes.append(f"revocation not checked: no revocation list of hub {key.province} cached")
    elif revocations is not None:
        revoked = revocations.find(claims.serial)
        as_of = revocations.as_of.isoformat(timespec="seconds")
        if revoked is not None:
            when = revoked.revoked_at.isoformat(timespec="seconds")
            problems.append(
                Problem(LabelFault.REVOKED, f"revoked {when} ({revoked.reason}); list as of {as_of}")
            )
        else:
            notes.append(f"not revoked as of {as_of}")
    if now < claims.not_before:
        problems.append(Problem(LabelFault.NOT_YET_VALID, f"valid from {claims.valid_from.isoformat()}"))
    if now >= claims.expires:
        problems.append(Problem(LabelFault.EXPIRED, f"valid until {claims.valid_until.isoformat()}"))
    if vin is not None and vin.strip().upper() != claims.vin:
        problems.append(Problem(LabelFault.WRONG_VEHICLE, f"the label is for VIN {claims.vin}, not {vin}"))
    return LabelCheck(claims, tuple(problems), tuple(notes))

"""A hub's signed list of the labels it revoked, as of a moment.

The same envelope as a label (``elabel.envelope``) with its own content type, signed with the
same hub key. Claims: ``iss`` (1) the hub's province, ``iat`` (6) the moment the list is as of,
and ``REVOKED`` (-70010) an array of ``[serial (text), revoked at (epoch seconds), reason (text)]``.
A verifier can only say "not revoked as of the list's date"; it prints that date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elabel.envelope import CONTENT_TYPE_REVOCATION_LIST, open_envelope, sign_envelope, verify_envelope
from elabel.errors import EnvelopeDamaged, RevocationListInvalid, SignatureMismatch
from elabel.keys import HubLabelKey, key_id

CLAIM_ISS = 1
CLAIM_IAT = 6
CLAIM_REVOKED = -70010


@dataclass(frozen=True, slots=True)
class Revocation:
    serial: str
    revoked_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class RevocationList:
    issuer_province: str
    as_of: datetime
    revocations: tuple[Revocation, ...]

    def find(self, serial: str) -> Revocation | None:
        return next((r for r in self.revocations if r.serial == serial), None)


def sign_revocation_list(revocations: RevocationList, key: HubLabelKey) -> bytes:
    if revocations.issuer_province != key.province:
        raise ValueError(f"a list of hub {revocations.issuer_province} signed with hub {key.province}'s key")
    claims: dict[int, Any] = {
        CLAIM_ISS: revocations.issuer_province,
        CLAIM_IAT: int(revocations.as_of.timestamp()),
        CLAIM_REVOKED: [[r.serial, int(r.revoked_at.timestamp()), r.reason] for r in revocations.revocations],
    }
    return sign_envelope(claims, key, CONTENT_TYPE_REVOCATION_LIST)


def _entry(item: Any, index: int) -> Revocation:
    if (
        not isinstance(item, list)
        or len(item) != 3
        or not isinstance(item[0], str)
        or not isinstance(item[1], int)
        or not isinstance(item[2], str)
    ):
        raise RevocationListInvalid(f"revocation entry {index} is not [serial, epoch seconds, reason]")
    return Revocation(item[0], datetime.fromtimestamp(item[1], UTC), item[2])


def read_revocation_list(data: bytes, province: str, public_key: bytes) -> RevocationList:
    """The list in ``data`` if hub ``province``'s key ``public_key`` signed it."""
    where = f"revocation list of hub {province}"
    try:
        envelope = open_envelope(data)
        if envelope.content_type != CONTENT_TYPE_REVOCATION_LIST:
            raise RevocationListInvalid(f"{where}: content type {envelope.content_type!r} is not a list's")
        if envelope.kid != key_id(public_key):
            raise RevocationListInvalid(f"{where}: signed with key {envelope.kid.hex()}, not the hub's")
        claims = verify_envelope(data, public_key)
    except EnvelopeDamaged as exc:
        raise RevocationListInvalid(f"{where}: damaged ({exc})") from exc
    except SignatureMismatch as exc:
        raise RevocationListInvalid(f"{where}: the signature is not the hub's") from exc
    issuer, as_of, items = claims.get(CLAIM_ISS), claims.get(CLAIM_IAT), claims.get(CLAIM_REVOKED)
    if issuer != province:
        raise RevocationListInvalid(f"{where}: issued by {issuer!r}")
    if not isinstance(as_of, int) or isinstance(as_of, bool) or not isinstance(items, list):
        raise RevocationListInvalid(f"{where}: no as-of time (6) or revoked array ({CLAIM_REVOKED})")
    revocations = tuple(_entry(item, i) for i, item in enumerate(items))
    return RevocationList(province, datetime.fromtimestamp(as_of, UTC), revocations)

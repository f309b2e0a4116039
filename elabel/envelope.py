"""The signed envelope labels and revocation lists share: a CWT claims map in a tagged
COSE_Sign1, EdDSA, with the algorithm, the key id and a content type in the protected header.

The content type keeps one kind from passing as the other: a revocation list is never a label.
``open_envelope`` reads the header without trusting it (to find the key); ``verify_envelope``
then checks the signature with that key and returns the claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2
from cwt import COSE, COSEMessage, COSETypes, VerifyError

from elabel.errors import EnvelopeDamaged, SignatureMismatch
from elabel.keys import ALG_EDDSA, HubLabelKey, cose_verifying_key

HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
CONTENT_TYPE_LABEL = 61  # CoAP content format of application/cwt (RFC 8392)
CONTENT_TYPE_REVOCATION_LIST = "application/vnd.tongjian.label-revocations+cwt"

# What a damaged byte string can make the CBOR and COSE decoders raise.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, EOFError, cbor2.CBORError)


def sign_envelope(claims: dict[int, Any], key: HubLabelKey, content_type: int | str) -> bytes:
    protected = {HEADER_ALG: ALG_EDDSA, HEADER_CONTENT_TYPE: content_type, HEADER_KID: key.kid}
    cose = COSE.new()
    signed = cose.encode_and_sign(cbor2.dumps(claims), key.cose_signing_key(), protected=protected)
    assert isinstance(signed, bytes)
    return signed


@dataclass(frozen=True, slots=True)
class Envelope:
    kid: bytes
    content_type: int | str


def open_envelope(data: bytes) -> Envelope:
    try:
        message = COSEMessage.loads(data)
        protected = message.protected
    except _DECODE_ERRORS as exc:
        raise EnvelopeDamaged(f"not a COSE message ({exc})") from exc
    if message.type is not COSETypes.SIGN1:
        raise EnvelopeDamaged(f"a COSE {message.type.name}, not a COSE_Sign1")
    if not isinstance(protected, dict) or protected.get(HEADER_ALG) != ALG_EDDSA:
        raise EnvelopeDamaged("the protected header does not name EdDSA (-8)")
    kid = protected.get(HEADER_KID)
    content_type = protected.get(HEADER_CONTENT_TYPE)
    if not isinstance(kid, bytes) or not isinstance(content_type, int | str):
        raise EnvelopeDamaged("the protected header lacks a key id (4) or content type (3)")
    return Envelope(kid, content_type)


def verify_envelope(data: bytes, public_key: bytes) -> dict[Any, Any]:
    """The claims, if ``public_key`` signed ``data``; SignatureMismatch or EnvelopeDamaged if not."""
    try:
        _, _, payload = COSE.new(verify_kid=True).decode_with_headers(data, [cose_verifying_key(public_key)])
    except VerifyError as exc:
        raise SignatureMismatch("the signature is not the key's") from exc
    except _DECODE_ERRORS as exc:
        raise EnvelopeDamaged(f"the COSE message does not decode ({exc})") from exc
    try:
        claims = cbor2.loads(payload)
    except _DECODE_ERRORS as exc:
        raise EnvelopeDamaged(f"the payload is not CBOR ({exc})") from exc
    if not isinstance(claims, dict):
        raise EnvelopeDamaged("the payload is not a claims map")
    return claims

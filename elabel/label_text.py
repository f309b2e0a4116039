"""A label's text: ``TJ1:`` + base45(zlib(COSE_Sign1(CWT claims))).

base45 (RFC 9285) uses only the QR code's alphanumeric characters, so the QR code is written in
alphanumeric mode and stays small; zlib shrinks the CBOR first. A label text is at most a few
hundred characters, so a decompressed size beyond ``MAX_COSE_BYTES`` means a damaged or hostile
text and is refused without inflating it.
"""

from __future__ import annotations

import zlib

import base45

from elabel.claims import LabelClaims
from elabel.envelope import CONTENT_TYPE_LABEL, sign_envelope
from elabel.errors import EnvelopeDamaged
from elabel.keys import HubLabelKey

PREFIX = "TJ1:"
MAX_COSE_BYTES = 4096


def sign_label(claims: LabelClaims, key: HubLabelKey) -> str:
    """The label text for ``claims``, signed with the hub's key."""
    if claims.issuer_province != key.province:
        raise ValueError(f"claims name issuer {claims.issuer_province}, the key is hub {key.province}'s")
    cose = sign_envelope(claims.to_cwt(), key, CONTENT_TYPE_LABEL)
    encoded: bytes = base45.b45encode(zlib.compress(cose, 9))
    return PREFIX + encoded.decode("ascii")


def cose_of_text(text: str) -> bytes:
    """The COSE_Sign1 bytes a label text carries (EnvelopeDamaged if the text is not one)."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise EnvelopeDamaged(f"the text does not start with {PREFIX!r}")
    try:
        compressed = base45.b45decode(text[len(PREFIX) :])
    except ValueError as exc:
        raise EnvelopeDamaged("the text after the prefix is not base45") from exc
    inflater = zlib.decompressobj()
    try:
        cose = inflater.decompress(compressed, MAX_COSE_BYTES)
    except zlib.error as exc:
        raise EnvelopeDamaged(f"the base45 bytes are not zlib data ({exc})") from exc
    if inflater.unconsumed_tail:
        raise EnvelopeDamaged(f"the data inflates beyond {MAX_COSE_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise EnvelopeDamaged("the zlib data is cut short or has bytes after its end")
    return cose

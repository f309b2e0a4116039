"""A label made with ``cwt`` verifies with ``pycose``, a COSE library that shares no code with it."""

from __future__ import annotations

import zlib

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycose.keys import OKPKey
from pycose.messages import Sign1Message

from elabel.claims import LabelClaims
from elabel.keys import HubLabelKey
from elabel.label_text import PREFIX, sign_label


def test_pycose_verifies_the_signature_and_reads_the_claims(
    hub_key: HubLabelKey, claims: LabelClaims
) -> None:
    token = sign_label(claims, hub_key)
    cose = zlib.decompress(base45.b45decode(token[len(PREFIX) :]))
    message = Sign1Message.decode(cose)
    message.key = OKPKey(crv="ED25519", x=hub_key.public_key)
    assert message.verify_signature()
    assert message.phdr_encoded and cbor2.loads(message.phdr_encoded) == {1: -8, 3: 61, 4: hub_key.kid}
    payload = cbor2.loads(message.payload)
    assert payload[2] == claims.vin and payload[7] == claims.serial.encode()


def test_pycose_refuses_another_key(hub_key: HubLabelKey, claims: LabelClaims) -> None:
    token = sign_label(claims, hub_key)
    message = Sign1Message.decode(zlib.decompress(base45.b45decode(token[len(PREFIX) :])))
    message.key = OKPKey(crv="ED25519", x=HubLabelKey("50", Ed25519PrivateKey.generate()).public_key)
    assert not message.verify_signature()

"""docs/labels.md stays true: its example is what the code signs, and pycose verifies it."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycose.keys import OKPKey
from pycose.messages import Sign1Message

from elabel.claims import LabelClaims, LabelType
from elabel.keys import HubLabelKey
from elabel.label_text import PREFIX, sign_label
from inspection.vehicle import VehicleClass

DOC = Path(__file__).resolve().parents[2] / "docs" / "labels.md"
RFC8032_TEST1_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_TEST1_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def documented_token() -> str:
    (token,) = re.findall(r"^(TJ1:\S+)$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return token


def test_the_documented_example_is_what_the_code_signs() -> None:
    key = HubLabelKey("50", Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST1_SECRET)))
    assert key.public_key.hex() == RFC8032_TEST1_PUBLIC and key.kid.hex() in DOC.read_text(encoding="utf-8")
    claims = LabelClaims(
        LabelType.EXEMPTION,
        "LSVAB4187ES123456",
        "渝A12345",
        VehicleClass.M1,
        date(2025, 2, 1),
        date(2027, 3, 15),
        "50",
        "50-E-LSVAB4187ES123456-20250315",
        datetime(2025, 2, 1, 2, 30, tzinfo=UTC),
    )
    assert sign_label(claims, key) == documented_token()


def test_the_documented_example_verifies_with_pycose_as_documented() -> None:
    message = Sign1Message.decode(zlib.decompress(base45.b45decode(documented_token()[len(PREFIX) :])))
    message.key = OKPKey(crv="ED25519", x=bytes.fromhex(RFC8032_TEST1_PUBLIC))
    assert message.verify_signature()
    claims = cbor2.loads(message.payload)
    assert (claims[-70001], claims[2], claims[4], claims[5]) == (
        "exemption",
        "LSVAB4187ES123456",
        1805126400,
        1738339200,
    )

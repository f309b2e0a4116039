"""A hub's label signing key, and the key id (kid) a label names it by.

The kid is the first 8 bytes of SHA-256 over the raw 32-byte Ed25519 public key, as the EU DCC
derived its kids from certificates: any verifier can recompute it from the trust list entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from cwt import COSEKey
from cwt.cose_key_interface import COSEKeyInterface

# COSE registry numbers (RFC 9053): key type OKP, curve Ed25519, algorithm EdDSA.
KTY_OKP = 1
CRV_ED25519 = 6
ALG_EDDSA = -8


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()[:8]


@dataclass(frozen=True, slots=True)
class HubLabelKey:
    """The key a province hub signs labels and its revocation list with."""

    province: str  # GB/T 2260 code, e.g. "50"
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return raw_public_key(self.private_key.public_key())

    @property
    def kid(self) -> bytes:
        return key_id(self.public_key)

    def cose_signing_key(self) -> COSEKeyInterface:
        private = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return COSEKey.new(
            {1: KTY_OKP, -1: CRV_ED25519, -2: self.public_key, -4: private, 2: self.kid, 3: ALG_EDDSA}
        )


def cose_verifying_key(public_key: bytes) -> COSEKeyInterface:
    return COSEKey.new({1: KTY_OKP, -1: CRV_ED25519, -2: public_key, 2: key_id(public_key), 3: ALG_EDDSA})

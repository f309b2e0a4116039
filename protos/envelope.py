"""The ``SignedRecord`` envelope: how a station seals record bytes and how anyone checks the seal.

Part of the contract, not of either side: agent and hub must agree on the key id and the
signature scheme byte for byte. Ed25519 over the record's serialized bytes; the key id is
``<station id>/<first 16 hex digits of SHA-256 of the raw 32-byte public key>``, so a hub can tell
at a glance which station a key claims to belong to, and two keys of one station never collide.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protos.errors import ProtosError
from protos.tongjian.v1 import inspection_pb2 as pb


class InvalidKey(ProtosError, ValueError):
    """Key material that is not an Ed25519 key in the expected encoding."""


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(station_id: str, public_key: Ed25519PublicKey) -> str:
    return f"{station_id}/{hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]}"


def station_of_key_id(key_id: str) -> str:
    """The station id a key id names (everything before the last ``/``)."""
    station, sep, _ = key_id.rpartition("/")
    return station if sep else ""


def seal(record_bytes: bytes, key_id: str, private_key: Ed25519PrivateKey) -> pb.SignedRecord:
    return pb.SignedRecord(record=record_bytes, key_id=key_id, signature=private_key.sign(record_bytes))


def signature_valid(envelope: pb.SignedRecord, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(envelope.signature, envelope.record)
    except InvalidSignature:
        return False
    return True


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or from its raw 32 bytes."""
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as error:
        raise InvalidKey(f"not a PEM public key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidKey(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise InvalidKey(f"not an unencrypted PEM private key: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKey(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key

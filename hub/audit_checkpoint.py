"""Signed checkpoints of a hub's audit log: the text a hub signs, how it is parsed and verified.

A checkpoint says "the RFC 9162 Merkle tree of the first SIZE entries of this log has root ROOT";
its body is a C2SP signed-note checkpoint (https://c2sp.org/tlog-checkpoint), four lines, each
ending in a newline::

    tongjian/hub-50/audit-log              the origin: which hub's audit log
    1234                                   tree size, decimal, no leading zeros
    3q2+7w...base64 of the 32-byte root=   standard base64 (RFC 4648, padded)
    time 2026-11-30T04:30:00Z              extension line: when the hub signed it (UTC, seconds)

The signature is Ed25519 over exactly those bytes, by the hub's key (the key the national trust
list names for its province); it is stored and sent apart from the body, with the key id
``hub-50/<16 hex>`` (``protos.envelope.key_id_of``). ``note_text`` renders body and signature as
a signed note (``— hub-50 base64(key hash || signature)``), which note verifiers outside this
project (golang.org/x/mod/sumdb/note) check with the same public key.

Parsing is strict: a body that is not exactly this shape is a ``CheckpointInvalid`` naming the
line, never another exception (property-tested).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.errors import HubError
from hub.merkle import HASH_SIZE
from protos.envelope import key_id_of

_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_TIME = re.compile(r"time (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})Z")
MAX_BODY_BYTES = 1024


class CheckpointInvalid(HubError):
    """A checkpoint body that is not the format above, or a signature that does not verify."""


def audit_origin(signer: str) -> str:
    """The origin line of hub ``signer``'s audit log, e.g. ``tongjian/hub-50/audit-log``."""
    return f"tongjian/{signer}/audit-log"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    signed_at: datetime  # whole seconds, UTC

    def body(self) -> bytes:
        return (
            f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"
            f"time {self.signed_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        ).encode()


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint's exact body bytes and the signature over them."""

    body: bytes
    key_id: str
    signature: bytes

    @property
    def checkpoint(self) -> Checkpoint:
        return parse_checkpoint(self.body)


@dataclass(frozen=True, slots=True)
class CheckpointKey:
    """A hub's signing key for its audit log checkpoints."""

    signer: str  # e.g. "hub-50" (hub.trust_list.hub_signer)
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.signer, self.private_key.public_key())

    @property
    def origin(self) -> str:
        return audit_origin(self.signer)

    def sign(self, size: int, root: bytes, at: datetime) -> SignedCheckpoint:
        checkpoint = Checkpoint(self.origin, size, root, at.astimezone(UTC).replace(microsecond=0))
        body = checkpoint.body()
        return SignedCheckpoint(body, self.key_id, self.private_key.sign(body))


def parse_checkpoint(body: bytes) -> Checkpoint:
    """The checkpoint ``body`` says; ``CheckpointInvalid`` naming the first line that is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise CheckpointInvalid(f"checkpoint is {len(body)} bytes, more than {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CheckpointInvalid(f"checkpoint is not UTF-8 (byte {error.start})") from error
    if not text.endswith("\n"):
        raise CheckpointInvalid("checkpoint does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise CheckpointInvalid(f"checkpoint has {len(lines)} lines, not 4 (origin, size, root, time)")
    origin, size_text, root_text, time_text = lines
    if not origin or not origin.isprintable() or origin != origin.strip():
        raise CheckpointInvalid(f"checkpoint line 1: origin {origin!r} is empty or not printable")
    if not _SIZE.fullmatch(size_text):
        raise CheckpointInvalid(f"checkpoint line 2: tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CheckpointInvalid(f"checkpoint line 3: root {root_text!r} is not base64") from error
    if len(root) != HASH_SIZE or base64.b64encode(root).decode("ascii") != root_text:
        raise CheckpointInvalid(f"checkpoint line 3: root {root_text!r} is not {HASH_SIZE} bytes in base64")
    match = _TIME.fullmatch(time_text)
    if match is None:
        raise CheckpointInvalid(f"checkpoint line 4: {time_text!r} is not 'time YYYY-MM-DDTHH:MM:SSZ'")
    try:
        signed_at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    except ValueError as error:
        raise CheckpointInvalid(f"checkpoint line 4: {match.group(1)!r} is not a date and time") from error
    return Checkpoint(origin, int(size_text), root, signed_at)


def verify_checkpoint(signed: SignedCheckpoint, public_key: Ed25519PublicKey, signer: str) -> Checkpoint:
    """The checkpoint, once its signature verifies with ``public_key`` and it is hub ``signer``'s
    audit log; ``CheckpointInvalid`` saying which check failed."""
    expected_key_id = key_id_of(signer, public_key)
    if signed.key_id != expected_key_id:
        raise CheckpointInvalid(f"checkpoint signed by key {signed.key_id!r}, not {expected_key_id!r}")
    try:
        public_key.verify(signed.signature, signed.body)
    except InvalidSignature as error:
        raise CheckpointInvalid(f"checkpoint signature does not verify with key {expected_key_id}") from error
    checkpoint = parse_checkpoint(signed.body)
    if checkpoint.origin != audit_origin(signer):
        raise CheckpointInvalid(f"checkpoint origin {checkpoint.origin!r} is not {audit_origin(signer)!r}")
    return checkpoint


def note_key_hash(signer: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash of a signed note's signature line (C2SP signed-note, Ed25519 type 0x01)."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(signer.encode("utf-8") + b"\n\x01" + raw).digest()[:4]


def note_text(signed: SignedCheckpoint, signer: str, public_key: Ed25519PublicKey) -> str:
    """Body, blank line, signature line: the checkpoint as a C2SP signed note."""
    stamp = base64.b64encode(note_key_hash(signer, public_key) + signed.signature).decode("ascii")
    return f"{signed.body.decode('utf-8')}\n\u2014 {signer} {stamp}\n"

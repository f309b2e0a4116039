"""The ``SignedDocument`` envelope: how a hub or the national authority seals a document's bytes,
and how a reader checks the seal before it parses anything inside.

Part of the contract, like ``protos.envelope`` for station records, and built the same way:
Ed25519 over the exact serialized ``body``; ``key_id`` is ``<signer>/<first 16 hex digits of
SHA-256 of the raw public key>`` (``protos.envelope.key_id_of``), e.g. ``hub-50/3fa2...`` or
``national/...``. The reader names the key it trusts; the key id only has to agree with it, so a
document that claims another key is refused before its signature is even tried - telling an
operator "signed with the wrong key" rather than "bad signature".

What the body means (a ``TrustList``, a ``StationDirectory``, a ``ForwardBody``) is for the
caller: ``verify_document`` returns the body only once the signature holds.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.message import DecodeError

from protos.envelope import key_id_of
from protos.errors import ProtosError
from protos.tongjian.v1 import federation_pb2

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # a trust list of 31 provinces or a directory of 10^4 stations fits


class DocumentSignatureInvalid(ProtosError):
    """A signed document whose key id or signature does not hold for the key the reader trusts."""

    def __init__(self, what: str, key_id: str, reason: str) -> None:
        super().__init__(f"{what} signed by {key_id!r}: {reason}")
        self.what = what
        self.key_id = key_id
        self.reason = reason


class MalformedDocument(ProtosError, ValueError):
    """Bytes that are not a ``SignedDocument`` at all; ``what`` names the document expected."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: not a signed document ({reason})")
        self.what = what
        self.reason = reason


def sign_document(body: bytes, signer: str, private_key: Ed25519PrivateKey) -> federation_pb2.SignedDocument:
    """Seal ``body`` as ``signer`` (e.g. ``hub-50``, ``national``)."""
    return federation_pb2.SignedDocument(
        body=body,
        key_id=key_id_of(signer, private_key.public_key()),
        signature=private_key.sign(body),
    )


def fingerprint_of_key_id(key_id: str) -> str:
    """The key fingerprint a key id names (everything after the last ``/``; empty if none)."""
    _, sep, fingerprint = key_id.rpartition("/")
    return fingerprint if sep else ""


def signer_of_key_id(key_id: str) -> str:
    """The signer a key id names (everything before the last ``/``; empty if none)."""
    signer, sep, _ = key_id.rpartition("/")
    return signer if sep else ""


def verify_document(
    document: federation_pb2.SignedDocument,
    public_key: Ed25519PublicKey,
    what: str,
    *,
    signer: str | None = None,
) -> bytes:
    """The body of ``document`` if ``public_key`` signed it; else ``DocumentSignatureInvalid``.

    The key id must name ``public_key`` (its fingerprint); with ``signer`` it must also name that
    signer exactly (e.g. ``national``)."""
    expected_fingerprint = fingerprint_of_key_id(key_id_of("", public_key))
    key_id = document.key_id
    if fingerprint_of_key_id(key_id) != expected_fingerprint:
        raise DocumentSignatureInvalid(
            what, key_id, f"the key id does not name the trusted key (fingerprint {expected_fingerprint})"
        )
    if signer is not None and signer_of_key_id(key_id) != signer:
        raise DocumentSignatureInvalid(what, key_id, f"the key id does not name the signer {signer!r}")
    try:
        public_key.verify(document.signature, document.body)
    except InvalidSignature as error:
        raise DocumentSignatureInvalid(
            what, key_id, "the Ed25519 signature does not match the body"
        ) from error
    return document.body


def parse_document(raw: bytes, what: str) -> federation_pb2.SignedDocument:
    """A ``SignedDocument`` from its serialized bytes (a file, a database row); ``MalformedDocument``
    if they are not one."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise MalformedDocument(what, f"{len(raw)} bytes, more than {MAX_DOCUMENT_BYTES}")
    try:
        document = federation_pb2.SignedDocument.FromString(raw)
    except DecodeError as error:
        raise MalformedDocument(what, str(error) or "does not decode") from error
    if not document.key_id or not document.signature:
        raise MalformedDocument(what, "no key id or no signature")
    return document

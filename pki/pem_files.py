"""Reading and checking PEM certificates and private keys, with errors that name the file.

Everything in ``pki`` takes a PEM either as a file path or as bytes already read; bytes are named
by the argument they came in (``<cert_pem>``) so an error still says which one was wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from pki.errors import PemFileError
from pki.errors import PkiError as PkiError  # re-exported: callers import it from here

PemSource = bytes | Path

# The key types gRPC's BoringSSL accepts for TLS and that this package issues or may be given.
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class Pem:
    """PEM bytes and the name errors about them should carry (a path, or ``<argument>``)."""

    data: bytes
    name: str


def read_pem(source: PemSource, label: str) -> Pem:
    if isinstance(source, bytes):
        return Pem(source, f"<{label}>")
    try:
        return Pem(source.read_bytes(), str(source))
    except OSError as error:
        raise PemFileError(source, f"cannot read: {error.strerror or error}") from error


def parse_certificates(pem: Pem) -> list[x509.Certificate]:
    """Every certificate in a PEM file or bundle (at least one)."""
    if b"-----BEGIN CERTIFICATE-----" not in pem.data:
        raise PemFileError(pem.name, "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")
    try:
        return x509.load_pem_x509_certificates(pem.data)
    except ValueError as error:
        raise PemFileError(pem.name, f"not a valid PEM certificate: {error}") from error


def parse_private_key(pem: Pem) -> PrivateKey:
    if b"PRIVATE KEY-----" not in pem.data:
        raise PemFileError(pem.name, "no PEM private key in it (expected -----BEGIN ... PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(pem.data, password=None)
    except (ValueError, TypeError) as error:
        # TypeError: the key is encrypted; gRPC cannot take a passphrase, so neither do we.
        raise PemFileError(pem.name, f"not a usable unencrypted PEM private key: {error}") from error
    if not isinstance(key, PrivateKey):
        raise PemFileError(pem.name, f"a {type(key).__name__}; expected an ECDSA or Ed25519 key")
    return key


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_valid_now(certificate: x509.Certificate, name: str, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    if now > certificate.not_valid_after_utc:
        raise PemFileError(name, f"certificate expired at {certificate.not_valid_after_utc.isoformat()}")
    if now < certificate.not_valid_before_utc:
        raise PemFileError(
            name, f"certificate not valid before {certificate.not_valid_before_utc.isoformat()}"
        )


def check_key_matches(certificate: x509.Certificate, cert_name: str, key: PrivateKey, key_name: str) -> None:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise PemFileError(key_name, f"private key does not belong to the certificate in {cert_name}")


def write_private_key(path: Path, key: PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, readable by its owner only from the first byte on."""
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            # O_CREAT's mode does not apply to a file that already existed.
            os.fchmod(file.fileno(), 0o600)
            file.write(data)
    except OSError as error:
        raise PemFileError(path, f"cannot write: {error.strerror or error}") from error


def write_certificate(path: Path, certificate: x509.Certificate) -> None:
    try:
        path.write_bytes(certificate_pem(certificate))
    except OSError as error:
        raise PemFileError(path, f"cannot write: {error.strerror or error}") from error


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)

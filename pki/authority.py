"""A development certificate authority: one self-signed root that issues hub, station and person certificates.

The certificate profile is the contract, not this CA: the hub trusts a client to be the station
or person named by its certificate's subject common name, and the OU says which kind it is.

* hub: extended key usage serverAuth; subject CN = hub name, OU = hub, O = Tongjian;
  subjectAltName localhost and 127.0.0.1 unless DNS names or IP addresses are given.
* station: clientAuth; CN = station id, OU = station, O = Tongjian; subjectAltName only if given.
* person: clientAuth; CN = person id, OU = person, O = Tongjian; subjectAltName only if given.
* reviewer, senior-reviewer, registry-clerk, admin: as person, OU = the role.
* peer-hub: serverAuth and clientAuth; CN = hub name, OU = peer-hub; subjectAltName as for hub.
* lane-service: serverAuth, for a station's PDA lane service; CN = its name, OU = lane-service;
  subjectAltName as for the hub (localhost and 127.0.0.1 unless given).

The OU is the role (``pki.roles.certificate_role``); the EKU alone cannot tell a station from a person.

Keys are ECDSA P-256: gRPC's BoringSSL accepts them for TLS 1.2 and 1.3 alike (Ed25519 TLS
certificates are not accepted everywhere gRPC runs). Files are PEM; private keys are written 0600.

Layout: ``init_ca(out)`` writes ``out/ca.cert.pem`` and ``out/ca.key.pem``; ``issue(ca, role, name,
out)`` writes ``out/<name>.cert.pem``, ``out/<name>.key.pem`` and a copy of the CA certificate as
``out/ca.cert.pem``, which is everything a hub or station needs in one directory.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki.errors import InvalidCertificateRequest, PemFileError
from pki.pem_files import (
    check_key_matches,
    check_valid_now,
    is_ca,
    parse_certificates,
    parse_private_key,
    read_pem,
    write_certificate,
    write_private_key,
)

# Re-exported: a role is what issue() is asked for, so callers of the CA take it from here too.
from pki.roles import Role as Role

CA_CERT_FILE = "ca.cert.pem"
CA_KEY_FILE = "ca.key.pem"
ORGANIZATION = "Tongjian"
DEFAULT_CA_NAME = "Tongjian development CA"
DEFAULT_CA_DAYS = 3650
# Browsers cap server certificates at 398 days; we keep to it for every role out of habit.
DEFAULT_DAYS = 397
# Issued a little in the past, so a peer whose clock runs a few minutes behind still accepts it.
_BACKDATE = timedelta(minutes=5)
# X.520's upper bound for a common name, which cryptography counts in UTF-8 bytes; it also keeps
# "<name>.cert.pem" well inside a file system's 255-byte file names.
_MAX_NAME_BYTES = 64


_CLIENT = (ExtendedKeyUsageOID.CLIENT_AUTH,)
_EXTENDED_KEY_USAGE: dict[Role, tuple[x509.ObjectIdentifier, ...]] = {
    Role.HUB: (ExtendedKeyUsageOID.SERVER_AUTH,),
    Role.STATION: _CLIENT,
    Role.PERSON: _CLIENT,
    Role.REVIEWER: _CLIENT,
    Role.SENIOR_REVIEWER: _CLIENT,
    Role.REGISTRY_CLERK: _CLIENT,
    Role.ADMIN: _CLIENT,
    Role.PEER_HUB: (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
    Role.LANE_SERVICE: (ExtendedKeyUsageOID.SERVER_AUTH,),
}
_SERVER_ROLES = frozenset({Role.HUB, Role.PEER_HUB, Role.LANE_SERVICE})


_HUB_DEFAULT_DNS = ("localhost",)
_HUB_DEFAULT_IPS = ("127.0.0.1",)


@dataclass(frozen=True, slots=True)
class CaFiles:
    cert_path: Path
    key_path: Path


@dataclass(frozen=True, slots=True)
class IssuedFiles:
    cert_path: Path
    key_path: Path
    ca_cert_path: Path  # the issuing CA's certificate, copied beside the issued one


def init_ca(
    out_dir: Path,
    name: str = DEFAULT_CA_NAME,
    *,
    days: int = DEFAULT_CA_DAYS,
    force: bool = False,
) -> CaFiles:
    """Create a self-signed root CA in ``out_dir``; refuses to replace one unless ``force``."""
    _check_name(name, "CA name")
    _check_days(days)
    files = CaFiles(out_dir / CA_CERT_FILE, out_dir / CA_KEY_FILE)
    _refuse_overwrite((files.cert_path, files.key_path), force)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        # path_length 0: this CA signs end-entity certificates only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    _make_directory(out_dir)
    write_private_key(files.key_path, key)
    write_certificate(files.cert_path, certificate)
    return files


def issue(
    ca_dir: Path,
    role: Role,
    name: str,
    out_dir: Path,
    *,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    days: int = DEFAULT_DAYS,
    force: bool = False,
) -> IssuedFiles:
    """Issue a certificate for ``name`` in ``role``, signed by the CA in ``ca_dir``.

    ``name`` becomes the subject CN (the station id or person id for clients) and the file stem.
    """
    role = Role(role)
    _check_name(name, f"{role} name")
    _check_days(days)
    dns = [_check_dns_name(value) for value in dns_names]
    ips = [_parse_ip(value) for value in ip_addresses]
    if role in _SERVER_ROLES and not dns and not ips:
        dns = list(_HUB_DEFAULT_DNS)
        ips = [ipaddress.ip_address(value) for value in _HUB_DEFAULT_IPS]
    ca_cert_pem = read_pem(ca_dir / CA_CERT_FILE, "ca certificate")
    ca_key_pem = read_pem(ca_dir / CA_KEY_FILE, "ca key")
    ca_certificate = parse_certificates(ca_cert_pem)[0]
    ca_key = parse_private_key(ca_key_pem)
    check_key_matches(ca_certificate, ca_cert_pem.name, ca_key, ca_key_pem.name)
    check_valid_now(ca_certificate, ca_cert_pem.name)
    if not is_ca(ca_certificate):
        raise PemFileError(ca_cert_pem.name, "not a CA certificate (basicConstraints CA:TRUE missing)")

    files = IssuedFiles(out_dir / f"{name}.cert.pem", out_dir / f"{name}.key.pem", out_dir / CA_CERT_FILE)
    _refuse_overwrite((files.cert_path, files.key_path), force)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    # A certificate outliving its CA would fail verification at the CA's expiry anyway; say so now.
    not_after = min(now + timedelta(days=days), ca_certificate.not_valid_after_utc)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(_EXTENDED_KEY_USAGE[role])), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(value) for value in dns]
    alt_names += [x509.IPAddress(value) for value in ips]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    # Ed25519 signs the message itself and takes no separate digest.
    digest = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(ca_key, digest)

    _make_directory(out_dir)
    write_private_key(files.key_path, key)
    write_certificate(files.cert_path, certificate)
    if files.ca_cert_path.resolve() != (ca_dir / CA_CERT_FILE).resolve():
        write_certificate(files.ca_cert_path, ca_certificate)
    return files


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _check_name(name: str, what: str) -> None:
    # The name is also a file stem, so it may not climb out of the output directory.
    if not name or name in (".", "..") or len(name.encode("utf-8", errors="surrogatepass")) > _MAX_NAME_BYTES:
        raise InvalidCertificateRequest(
            f"{what} {name!r} must be 1 to {_MAX_NAME_BYTES} bytes in UTF-8 (and not . or ..)"
        )
    if name != name.strip() or any(_forbidden_in_name(c) for c in name):
        raise InvalidCertificateRequest(
            f"{what} {name!r} may not contain path separators, control characters or outer spaces"
        )


def _forbidden_in_name(character: str) -> bool:
    if character in "/\\":
        return True
    return character != " " and unicodedata.category(character)[0] in "CZ"


def _check_days(days: int) -> None:
    if days < 1:
        raise InvalidCertificateRequest(f"days must be at least 1, not {days}")


def _check_dns_name(name: str) -> str:
    labels = name.split(".")
    if not name or len(name) > 253 or not all(label and len(label) <= 63 for label in labels):
        raise InvalidCertificateRequest(f"DNS name {name!r} is not a valid host name")
    if not name.isascii() or any(not (c.isalnum() or c in "-*") for label in labels for c in label):
        raise InvalidCertificateRequest(
            f"DNS name {name!r} is not a valid host name (ASCII letters, digits, '-' only)"
        )
    return name


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value)
    except ValueError as error:
        raise InvalidCertificateRequest(f"IP address {value!r} is not an IPv4 or IPv6 address") from error


def _refuse_overwrite(paths: Iterable[Path], force: bool) -> None:
    if force:
        return
    for path in paths:
        if path.exists():
            raise PemFileError(path, "already exists (pass force / --force to replace it)")


def _make_directory(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PemFileError(path, f"cannot create directory: {error.strerror or error}") from error

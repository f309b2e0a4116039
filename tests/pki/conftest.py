"""Fixtures for the PKI tests: a dev CA with a hub, a station and a person, plus a second, foreign CA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pki.authority import CaFiles, IssuedFiles, Role, init_ca, issue

STATION_ID = "50-0001"
PERSON_ID = "inspector-0007"


@dataclass(frozen=True)
class DevPki:
    ca: CaFiles
    hub: IssuedFiles
    station: IssuedFiles
    person: IssuedFiles
    station_id: str = STATION_ID
    person_id: str = PERSON_ID


def make_pki(root: Path, ca_name: str) -> DevPki:
    ca = init_ca(root / "ca", ca_name)
    return DevPki(
        ca=ca,
        hub=issue(root / "ca", Role.HUB, "hub-50", root / "hub"),
        station=issue(root / "ca", Role.STATION, STATION_ID, root / "station"),
        person=issue(root / "ca", Role.PERSON, PERSON_ID, root / "person"),
    )


@pytest.fixture(scope="module")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return make_pki(tmp_path_factory.mktemp("pki"), "Tongjian test CA")


@pytest.fixture(scope="module")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """Same names, same profile, another CA: nothing it issued may get in."""
    return make_pki(tmp_path_factory.mktemp("foreign"), "Somebody else's CA")


@pytest.fixture
def expired_certificate(dev_pki: DevPki, tmp_path: Path) -> tuple[Path, Path]:
    """(cert, key) paths of a station certificate from the dev CA that expired yesterday."""
    return _write_expired_certificate(dev_pki.ca, tmp_path / "expired")


def _write_expired_certificate(ca: CaFiles, out: Path, common_name: str = STATION_ID) -> tuple[Path, Path]:
    """A station certificate signed by ``ca`` that expired yesterday (the dev CA will not issue one)."""
    ca_key = serialization.load_pem_private_key(ca.key_path.read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / "expired.cert.pem", out / "expired.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path

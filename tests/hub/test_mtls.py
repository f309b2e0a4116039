"""Mutual TLS: a throwaway CA, a hub certificate and station client certificates (CN = station id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.server import HubServer, HubTls
from protos.tongjian.v1 import ingest_pb2


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    hub: Issued
    station: Issued  # CN 50-0001
    other_station: Issued  # CN 50-0002


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tongjian test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip

    def issue(common_name: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName] | None) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        role = "hub" if usage == ExtendedKeyUsageOID.SERVER_AUTH else "station"  # the OU is the role
        subject = [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )  # fmt: skip
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    return Pki(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        hub=issue(
            "hub-50",
            ExtendedKeyUsageOID.SERVER_AUTH,
            [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))],
        ),
        station=issue("50-0001", ExtendedKeyUsageOID.CLIENT_AUTH, None),
        other_station=issue("50-0002", ExtendedKeyUsageOID.CLIENT_AUTH, None),
    )


def client_credentials(pki: Pki, client: Issued | None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=pki.ca_pem)
    return grpc.ssl_channel_credentials(pki.ca_pem, client.key_pem, client.cert_pem)


async def test_mtls_accepts_the_station_holds_records_to_the_certificate_and_refuses_no_cert(
    pki: Pki, hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    tls = HubTls(cert_pem=pki.hub.cert_pem, key_pem=pki.hub.key_pem, client_ca_pem=pki.ca_pem)
    async with HubServer(hub_config(tls=tls, insecure_ok=False)) as hub:
        station = enrol(hub, station_key)
        target = f"localhost:{hub.port}"
        own = await submit(target, [station.seal(make_record(0))], client_credentials(pki, pki.station))
        assert [a.status for a in own.acks] == [ingest_pb2.ACK_STATUS_ACCEPTED]

        # Station 50-0002's certificate carrying a record of 50-0001, correctly signed by 50-0001's key.
        borrowed = await submit(
            target, [station.seal(make_record(1))], client_credentials(pki, pki.other_station)
        )
        (ack,) = borrowed.acks
        assert ack.status == ingest_pb2.ACK_STATUS_REJECTED
        assert "client certificate" in ack.reason and "50-0002" in ack.reason

        anonymous = await submit(target, [station.seal(make_record(2))], client_credentials(pki, None))
        assert anonymous.acks == [] and anonymous.error is not None
        assert anonymous.error.code() == grpc.StatusCode.UNAVAILABLE

        plaintext = await submit(hub.port, [station.seal(make_record(3))])
        assert plaintext.acks == [] and plaintext.error is not None
        assert hub.store.count_records() == 1

"""``PeerTrustAnchors`` on a real database: it fails closed when the list in force expires or a
peer CA is not valid, and hands gRPC a new TLS configuration once per change (SQLite and
PostgreSQL). The servers that use it are exercised in ``test_peer_ca_reload.py``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from hub.peer_trust_anchors import PeerTrustAnchors
from hub.store import HubStore
from hub.trust_list import NATIONAL_SIGNER, ProvinceHubEntry, build_trust_list
from pki.authority import Role, init_ca, issue
from pki.grpc_credentials import server_identity
from protos.signed_document import sign_document

NATIONAL = Ed25519PrivateKey.generate()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _expired_ca() -> bytes:
    """A CA certificate that was valid in 2020 only (pki issues none such: made by hand)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Province 44 CA, 2020")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2021, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM)


class Rig:
    def __init__(self, url: str, directory: Path) -> None:
        self.clock = Clock()
        self.store = HubStore(url)
        self.store.migrate()
        self.ca_50 = init_ca(directory / "ca-50", "Province 50 CA").cert_path.read_bytes()
        hub = issue(directory / "ca-50", Role.HUB, "hub-50", directory / "hub-50")
        ca_51 = init_ca(directory / "ca-51", "Province 51 CA")
        self.ca_51 = ca_51.cert_path.read_bytes()
        peer = issue(directory / "ca-51", Role.PEER_HUB, "hub-51.peer", directory / "peer-51")
        self.peer_51 = x509.load_pem_x509_certificate(peer.cert_path.read_bytes())
        self.anchors = PeerTrustAnchors(
            server_identity(hub.cert_path, hub.key_path),
            self.ca_50,
            self.store.trust_lists,
            NATIONAL.public_key(),
            self.clock,
            refresh_s=3600,
        )
        self.version = 0

    def install(self, cas: dict[str, bytes], lifetime: timedelta = timedelta(days=30)) -> None:
        self.version += 1
        entries = [
            ProvinceHubEntry.create(
                province,
                province,
                f"localhost:{index + 1000}",
                f"hub-{province}.peer",
                ca,
                Ed25519PrivateKey.generate().public_key(),
            )
            for index, (province, ca) in enumerate(sorted(cas.items()))
        ]
        now = self.clock()
        body = build_trust_list(self.version, entries, now - timedelta(minutes=1), now + lifetime)
        self.store.trust_lists.install(
            sign_document(body, NATIONAL_SIGNER, NATIONAL), NATIONAL.public_key(), now
        )


@pytest.fixture
def rig(database_url: str, tmp_path: Path) -> Iterator[Rig]:
    made = Rig(database_url, tmp_path)
    try:
        yield made
    finally:
        made.store.dispose()


async def test_an_expired_list_leaves_no_peer_trusted(rig: Rig) -> None:
    rig.install({"50": rig.ca_50, "51": rig.ca_51}, lifetime=timedelta(hours=1))
    rig.anchors.load()
    rig.anchors.initial_tls_configuration()
    assert await rig.anchors.check_peer_hub("hub-51.peer", rig.peer_51) is None
    assert rig.anchors.tls_configuration() is None  # gRPC already has the first one

    rig.clock.now += timedelta(hours=2)
    refused = await rig.anchors.check_peer_hub("hub-51.peer", rig.peer_51)
    assert refused is not None and "names no province hub" in refused and "not in force" in refused
    assert rig.anchors.anchors.peers == {}
    # The next handshake gets the configuration without Sichuan's CA, and only the next one.
    assert rig.anchors.tls_configuration() is not None
    assert rig.anchors.tls_configuration() is None

    rig.install({"50": rig.ca_50, "51": rig.ca_51})  # a fresh list: trusted again
    assert await rig.anchors.check_peer_hub("hub-51.peer", rig.peer_51) is None


async def test_a_peer_ca_not_valid_now_is_left_out_and_the_others_kept(rig: Rig) -> None:
    rig.install({"44": _expired_ca(), "51": rig.ca_51})
    rig.anchors.load()
    assert sorted(peer.province for peer in rig.anchors.anchors.peers.values()) == ["51"]
    assert await rig.anchors.check_peer_hub("hub-51.peer", rig.peer_51) is None
    refused = await rig.anchors.check_peer_hub("hub-44.peer", rig.peer_51)
    assert refused is not None and "names no province hub in trust list version 1" in refused


async def test_a_certificate_named_for_one_province_and_issued_by_anothers_ca_is_refused(rig: Rig) -> None:
    # Province 50's CA is trusted too, but it does not speak for Sichuan's peer name.
    rig.install({"50": rig.ca_50, "51": rig.ca_50})
    rig.anchors.load()
    refused = await rig.anchors.check_peer_hub("hub-51.peer", rig.peer_51)
    assert (
        refused is not None and "not issued by the CA trust list version 1 names for province 51" in refused
    )

"""mTLS over real gRPC: a grpc.aio server with server_credentials, clients with channel_credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest

from pki.grpc_credentials import channel_credentials, peer_common_name, server_credentials
from pki.pem_files import PkiError

# A method taking and returning raw bytes: the test needs a call, not a contract.
WHO_AM_I = "/tongjian.test.Identity/WhoAmI"
NO_CERTIFICATE = b"<no certificate>"


async def _who_am_i(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    name = peer_common_name(context)
    return NO_CERTIFICATE if name is None else name.encode()


def _identity_handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "tongjian.test.Identity", {"WhoAmI": grpc.unary_unary_rpc_method_handler(_who_am_i)}
    )


@pytest.fixture
async def tls_server(dev_pki) -> AsyncIterator[int]:  # type: ignore[no-untyped-def]
    """Port of a grpc.aio server holding the hub certificate and demanding dev-CA client certificates."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_identity_handler(),))
    credentials = server_credentials(dev_pki.hub.cert_path, dev_pki.hub.key_path, dev_pki.ca.cert_path)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    yield port
    await server.stop(None)


async def ask(target: str, credentials: grpc.ChannelCredentials | None) -> bytes:
    channel = (
        grpc.aio.secure_channel(target, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(target)
    )
    async with channel:
        return await channel.unary_unary(WHO_AM_I)(b"", timeout=5)  # type: ignore[no-any-return]


def client_of(pki, who) -> grpc.ChannelCredentials:  # type: ignore[no-untyped-def]
    return channel_credentials(pki.ca.cert_path, who.cert_path, who.key_path)


async def test_a_station_is_let_in_and_known_by_its_station_id(dev_pki, tls_server: int) -> None:  # type: ignore[no-untyped-def]
    for target in (f"127.0.0.1:{tls_server}", f"localhost:{tls_server}"):
        assert await ask(target, client_of(dev_pki, dev_pki.station)) == dev_pki.station_id.encode()
    assert (
        await ask(f"localhost:{tls_server}", client_of(dev_pki, dev_pki.person)) == dev_pki.person_id.encode()
    )


async def test_pem_bytes_work_as_well_as_paths(dev_pki, tls_server: int) -> None:  # type: ignore[no-untyped-def]
    station = dev_pki.station
    credentials = channel_credentials(
        dev_pki.ca.cert_path.read_bytes(), station.cert_path.read_bytes(), station.key_path.read_bytes()
    )
    assert await ask(f"127.0.0.1:{tls_server}", credentials) == dev_pki.station_id.encode()


async def test_a_client_without_a_certificate_is_refused(dev_pki, tls_server: int) -> None:  # type: ignore[no-untyped-def]
    anonymous = grpc.ssl_channel_credentials(root_certificates=dev_pki.ca.cert_path.read_bytes())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ask(f"127.0.0.1:{tls_server}", anonymous)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_certificate_from_another_ca_is_refused(dev_pki, foreign_pki, tls_server: int) -> None:  # type: ignore[no-untyped-def]
    # Trusts our CA for the server, presents a same-named station certificate from the foreign CA.
    impostor = channel_credentials(
        dev_pki.ca.cert_path, foreign_pki.station.cert_path, foreign_pki.station.key_path
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ask(f"127.0.0.1:{tls_server}", impostor)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_plaintext_client_is_refused(tls_server: int) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ask(f"127.0.0.1:{tls_server}", None)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_station_does_not_talk_to_a_hub_of_another_ca(dev_pki, foreign_pki, tls_server: int) -> None:  # type: ignore[no-untyped-def]
    # The station's own certificate is fine; the server's does not chain to the CA it trusts.
    station_of_foreign_ca = client_of(foreign_pki, foreign_pki.station)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ask(f"127.0.0.1:{tls_server}", station_of_foreign_ca)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_hub_name_outside_the_certificate_is_refused(dev_pki, tls_server: int) -> None:  # type: ignore[no-untyped-def]
    # The hub certificate names localhost and 127.0.0.1 only; 127.0.0.2 reaches the same socket family
    # on Linux but is not a name the certificate vouches for.
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_identity_handler(),))
    port = server.add_secure_port(
        "127.0.0.2:0", server_credentials(dev_pki.hub.cert_path, dev_pki.hub.key_path, dev_pki.ca.cert_path)
    )
    await server.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ask(f"127.0.0.2:{port}", client_of(dev_pki, dev_pki.station))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)


async def test_peer_common_name_is_none_without_tls() -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_identity_handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        assert await ask(f"127.0.0.1:{port}", None) == NO_CERTIFICATE
    finally:
        await server.stop(None)


# ---------------------------------------------------------------- bad inputs name the file


def test_a_missing_file_is_named(dev_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.cert.pem"
    with pytest.raises(PkiError) as error:
        channel_credentials(dev_pki.ca.cert_path, missing, dev_pki.station.key_path)
    assert error.value.path == str(missing) and "cannot read" in error.value.reason
    assert str(missing) in str(error.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no PEM certificate"),
        (b"hello", "no PEM certificate"),
        (
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            "not a valid PEM certificate",
        ),
    ],
)
def test_a_garbage_certificate_is_named(dev_pki, tmp_path: Path, content: bytes, reason: str) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.cert.pem"
    bad.write_bytes(content)
    with pytest.raises(PkiError) as error:
        server_credentials(bad, dev_pki.hub.key_path, dev_pki.ca.cert_path)
    assert error.value.path == str(bad) and reason in error.value.reason


def test_a_certificate_given_as_key_is_named(dev_pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PkiError) as error:
        channel_credentials(dev_pki.ca.cert_path, dev_pki.station.cert_path, dev_pki.station.cert_path)
    assert error.value.path == str(dev_pki.station.cert_path) and "no PEM private key" in error.value.reason


def test_a_key_of_another_certificate_is_named(dev_pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PkiError) as error:
        channel_credentials(dev_pki.ca.cert_path, dev_pki.station.cert_path, dev_pki.person.key_path)
    assert error.value.path == str(dev_pki.person.key_path)
    assert f"does not belong to the certificate in {dev_pki.station.cert_path}" in error.value.reason


def test_pem_bytes_are_named_by_their_argument(dev_pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PkiError) as error:
        server_credentials(dev_pki.hub.cert_path, dev_pki.hub.key_path, b"not a pem")
    assert error.value.path == "<client_ca_pem>"


def test_an_expired_certificate_is_named(dev_pki, expired_certificate: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    cert_path, key_path = expired_certificate
    with pytest.raises(PkiError) as error:
        channel_credentials(dev_pki.ca.cert_path, cert_path, key_path)
    assert error.value.path == str(cert_path) and "certificate expired at" in error.value.reason


def test_a_leaf_certificate_is_not_accepted_as_the_ca(dev_pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PkiError) as error:
        server_credentials(dev_pki.hub.cert_path, dev_pki.hub.key_path, dev_pki.station.cert_path)
    assert error.value.path == str(dev_pki.station.cert_path) and "no CA certificate" in error.value.reason


def test_an_encrypted_key_is_named(dev_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(dev_pki.station.key_path.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(PkiError) as error:
        channel_credentials(dev_pki.ca.cert_path, dev_pki.station.cert_path, encrypted)
    assert error.value.path == str(encrypted) and "unencrypted" in error.value.reason

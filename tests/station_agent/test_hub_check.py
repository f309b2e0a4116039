"""A failed link to the hub says which way it failed: refused, TLS handshake, or timed out.

Real peers on loopback: a port nobody listens on, the real hub with mTLS and certificates from
another CA, and a socket that accepts connections and never says a word.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from hub.server import HubConfig, HubServer, HubTls
from pki.authority import IssuedFiles, Role, init_ca, issue
from pki.grpc_credentials import channel_credentials
from station_agent.hub_check import EnrollmentProbe, HubUnreachable, UnreachableKind
from station_agent.outbox import OutboxStore
from station_agent.uplink import Uplink


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    hub: IssuedFiles
    station: IssuedFiles
    stranger: IssuedFiles  # CN 50-0001, from another CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("hub-check-pki")
    ca = init_ca(root / "ca", "test CA")
    other = init_ca(root / "other", "another CA")
    return Pki(
        ca.cert_path,
        other.cert_path,
        issue(root / "ca", Role.HUB, "hub-50", root / "hub"),
        issue(root / "ca", Role.STATION, "50-0001", root / "station"),
        issue(root / "other", Role.STATION, "50-0001", root / "stranger"),
    )


@pytest.fixture
async def tls_hub(tmp_path: Path, pki: Pki) -> AsyncIterator[HubServer]:
    tls = HubTls(pki.hub.cert_path.read_bytes(), pki.hub.key_path.read_bytes(), pki.ca.read_bytes())
    async with HubServer(HubConfig(database_url=f"sqlite:///{tmp_path}/hub.sqlite3", tls=tls)) as hub:
        yield hub


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener completes the TCP handshake (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def probe(target: str, credentials: grpc.ChannelCredentials | None) -> EnrollmentProbe:
    return EnrollmentProbe(target, "50-0001", "50-0001/0000000000000000", credentials, timeout_s=1.0)


async def failure(target: str, credentials: grpc.ChannelCredentials | None) -> HubUnreachable:
    with pytest.raises(HubUnreachable) as raised:
        await probe(target, credentials).check()
    return raised.value


async def test_nothing_listening_is_connection_refused(free_tcp_port: int) -> None:
    error = await failure(f"127.0.0.1:{free_tcp_port}", None)
    assert error.kind is UnreachableKind.REFUSED
    assert f"hub 127.0.0.1:{free_tcp_port}: connection refused" in str(error)


async def test_a_hub_certificate_from_another_ca_is_a_failed_tls_handshake(
    tls_hub: HubServer, pki: Pki
) -> None:
    error = await failure(
        f"localhost:{tls_hub.port}",
        channel_credentials(pki.other_ca, pki.station.cert_path, pki.station.key_path),
    )
    assert error.kind is UnreachableKind.TLS_HANDSHAKE
    assert "not signed by --ca" in str(error)


async def test_a_station_certificate_the_hub_does_not_trust_is_a_failed_tls_handshake(
    tls_hub: HubServer, pki: Pki
) -> None:
    error = await failure(
        f"localhost:{tls_hub.port}",
        channel_credentials(pki.ca, pki.stranger.cert_path, pki.stranger.key_path),
    )
    assert error.kind is UnreachableKind.TLS_HANDSHAKE
    assert "does it trust the CA of --cert" in str(error)


async def test_a_peer_that_never_answers_is_timed_out(silent_port: int) -> None:
    error = await failure(f"127.0.0.1:{silent_port}", None)
    assert error.kind is UnreachableKind.TIMED_OUT


async def test_the_uplink_log_says_why_it_cannot_connect(
    tmp_path: Path, tls_hub: HubServer, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with OutboxStore(tmp_path / "outbox.sqlite3", 10) as outbox:
        uplink = Uplink(
            outbox,
            f"localhost:{tls_hub.port}",
            channel_credentials=channel_credentials(
                pki.other_ca, pki.station.cert_path, pki.station.key_path
            ),
            insecure=False,
            connect_timeout_s=0.5,
            backoff_min_s=0.05,
            backoff_max_s=0.1,
        )
        await uplink.start()
        try:
            async with asyncio.timeout(20):
                while uplink.connect_failures < 1 or "retrying" not in caplog.text:
                    await asyncio.sleep(0.05)
        finally:
            await uplink.stop()
    assert "TLS handshake failed" in (uplink.last_error or "")
    assert "TLS handshake failed" in caplog.text


async def test_a_failed_tls_handshake_at_start_stops_the_station_a_hub_that_is_down_does_not(
    tmp_path: Path, tls_hub: HubServer, pki: Pki, station_key: object, free_tcp_port: int
) -> None:
    from station_agent.station import Station, StationSettings, StationTls

    def settings(target: str) -> StationSettings:
        return StationSettings(
            station_id="50-0001",
            signing_key=station_key.private_path,  # type: ignore[attr-defined]
            outbox_path=tmp_path / "outbox.sqlite3",
            hub_target=target,
            tls=StationTls.from_files(pki.other_ca, pki.station.cert_path, pki.station.key_path),
        )

    with pytest.raises(HubUnreachable, match="TLS handshake failed"):
        async with Station(settings(f"localhost:{tls_hub.port}")):
            pytest.fail("started on a CA that does not trust the hub")
    async with Station(settings(f"127.0.0.1:{free_tcp_port}")) as station:
        assert station.outbox.depth() == 0  # a hub that is down: the station inspects on and queues

"""Hub-to-hub links over mutual TLS: each province has its own CA; a hub trusts a peer's
``peer-hub`` certificate because the national trust list names that peer's CA and certificate
name, and the role in the certificate decides which RPCs it may call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from hub.server import HubTls
from pki.authority import IssuedFiles, Role, init_ca, issue
from pki.grpc_credentials import channel_credentials
from protos.tongjian.v1 import federation_pb2, ingest_pb2
from tests.federation_rig import National, ProvinceHub, Station, free_port

STATION = "51-0001"


@dataclass
class Province:
    ca_pem: bytes
    hub: ProvinceHub
    peer: IssuedFiles
    station: IssuedFiles | None


def _province(code: str, url: str, national: National, directory: Path) -> Province:
    ca = init_ca(directory / f"ca-{code}", f"Province {code} CA")
    hub_files = issue(directory / f"ca-{code}", Role.HUB, f"hub-{code}", directory / f"hub-{code}")
    peer = issue(directory / f"ca-{code}", Role.PEER_HUB, f"hub-{code}.peer", directory / f"peer-{code}")
    station = (
        issue(directory / f"ca-{code}", Role.STATION, STATION, directory / "station")
        if code == "51"
        else None
    )
    ca_pem = ca.cert_path.read_bytes()
    hub = ProvinceHub(
        code,
        url,
        national.public,
        listen=f"127.0.0.1:{free_port()}",
        tls=HubTls(hub_files.cert_path.read_bytes(), hub_files.key_path.read_bytes(), ca_pem),
        peer_identity=(peer.cert_path.read_bytes(), peer.key_path.read_bytes()),
    )
    return Province(ca_pem, hub, peer, station)


@dataclass
class Network:
    national: National
    sichuan: Province
    chongqing: Province
    station: Station


@pytest.fixture
async def network(databases: Any, tmp_path: Path) -> AsyncIterator[Network]:
    national = National()
    sichuan = _province("51", databases.new("sichuan"), national, tmp_path)
    chongqing = _province("50", databases.new("chongqing"), national, tmp_path)
    # Installed before the hubs start: a TLS hub reads its peers' CAs from the list at start.
    national.publish([sichuan.hub, chongqing.hub], peer_cas={"51": sichuan.ca_pem, "50": chongqing.ca_pem})
    await chongqing.hub.start()
    await sichuan.hub.start()
    try:
        station = sichuan.hub.enrol_station(STATION, tmp_path / "keys")
        yield Network(national, sichuan, chongqing, station)
    finally:
        await sichuan.hub.stop()
        await chongqing.hub.stop()


def _credentials(province: Province, files: IssuedFiles, server_ca: bytes) -> grpc.ChannelCredentials:
    return channel_credentials(server_ca, files.cert_path.read_bytes(), files.key_path.read_bytes())


async def test_records_cross_provinces_over_mutual_tls_with_per_province_cas(
    network: Network, make_record: Any
) -> None:
    records = [make_record(i, station_id=STATION) for i in range(3)]
    network.chongqing.hub.register_vehicles(records)
    assert network.sichuan.station is not None
    credentials = _credentials(network.sichuan, network.sichuan.station, network.sichuan.ca_pem)
    async with grpc.aio.secure_channel(f"localhost:{network.sichuan.hub.hub.port}", credentials) as channel:
        call = channel.stream_stream(
            "/tongjian.v1.StationIngest/Submit", response_deserializer=ingest_pb2.Ack.FromString
        )(iter([network.station.seal(r) for r in records]))
        acks = [ack async for ack in call]
    assert [a.status for a in acks] == [ingest_pb2.ACK_STATUS_ACCEPTED] * 3
    store = network.chongqing.hub.hub.store
    deadline = time.monotonic() + 20
    while store.foreign_records.count() < 3:
        assert time.monotonic() < deadline, "records did not arrive over mTLS"
        await asyncio.sleep(0.05)
    # Sichuan's audit checkpoint (signed with its hub key) reaches Chongqing over the same mTLS
    # peer link: PeerExchange.Witness, open to the peer-hub role.
    sichuan = network.sichuan.hub.hub
    sichuan.checkpointer.wake()
    while (held := store.peer_checkpoints.held("51")) is None or held.size < sichuan.store.audit_tree.size():
        assert time.monotonic() < deadline, "Sichuan's audit checkpoint did not reach Chongqing"
        await asyncio.sleep(0.05)
    assert held.alarm is None and sichuan.witnesser.results["50"].status == "accepted"


async def _forward(port: int, credentials: grpc.ChannelCredentials, items: list[Any]) -> list[Any]:
    async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
        call = channel.stream_stream(
            "/tongjian.v1.PeerExchange/Forward",
            request_serializer=federation_pb2.ForwardItem.SerializeToString,
            response_deserializer=federation_pb2.ForwardAck.FromString,
        )(iter(items))
        return [ack async for ack in call]


async def test_a_station_certificate_may_not_forward(network: Network) -> None:
    assert network.sichuan.station is not None
    # A station of Sichuan, whose CA the Chongqing hub trusts (it issues Sichuan's peer-hub
    # certificates): the TLS handshake passes, the role does not.
    credentials = _credentials(network.sichuan, network.sichuan.station, network.chongqing.ca_pem)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _forward(network.chongqing.hub.hub.port, credentials, [])
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "peer-hub" in (raised.value.details() or "")
    async with grpc.aio.secure_channel(f"localhost:{network.chongqing.hub.hub.port}", credentials) as channel:
        witness = channel.unary_unary(
            "/tongjian.v1.PeerExchange/Witness",
            request_serializer=federation_pb2.WitnessRequest.SerializeToString,
            response_deserializer=federation_pb2.WitnessReply.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await witness(federation_pb2.WitnessRequest(province="51"))
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_peer_may_not_speak_for_another_province(network: Network) -> None:
    from datetime import UTC, datetime

    from hub.published_directory import sign_directory

    # Chongqing's own peer certificate, presenting a directory signed with Chongqing's key but
    # calling it Sichuan's: the certificate does not speak for province 51.
    store = network.chongqing.hub.hub.store
    forged = sign_directory(store.directory, "51", network.chongqing.hub.hub_key, "hub-51", datetime.now(UTC))
    credentials = _credentials(network.chongqing, network.chongqing.peer, network.chongqing.ca_pem)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _forward(
            network.chongqing.hub.hub.port, credentials, [federation_pb2.ForwardItem(directory=forged)]
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "does not speak for province 51" in (raised.value.details() or "")


async def test_a_peer_provinces_ca_cannot_make_reviewers_here(network: Network, tmp_path: Path) -> None:
    """Chongqing's hub trusts Sichuan's CA, but only for Sichuan's peer-hub certificates: a
    'reviewer' certificate Sichuan's CA issued gets nothing from Chongqing's review queue, and the
    refusal is audited."""
    from protos.tongjian.v1 import review_pb2

    impostor = issue(tmp_path / "ca-51", Role.REVIEWER, "someone-in-sichuan", tmp_path / "impostor")
    credentials = _credentials(network.sichuan, impostor, network.chongqing.ca_pem)
    async with grpc.aio.secure_channel(f"localhost:{network.chongqing.hub.hub.port}", credentials) as channel:
        list_queue = channel.unary_unary(
            "/tongjian.v1.Review/ListQueue",
            request_serializer=review_pb2.ListQueueRequest.SerializeToString,
            response_deserializer=review_pb2.ListQueueReply.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await list_queue(review_pb2.ListQueueRequest())
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "must be issued by this hub's own CA" in (raised.value.details() or "")
    assert "Province 51 CA" in (raised.value.details() or "")
    audit = network.chongqing.hub.hub.store.audit_events(kind="access_refused")
    assert any("someone-in-sichuan" in row.detail and "own CA" in row.detail for row in audit)

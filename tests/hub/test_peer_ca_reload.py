"""A running TLS hub follows the installed national trust list's peer CAs, without a restart.

Each province has its own CA issuing its ``peer-hub`` certificate; the Chongqing (50) hub admits a
peer because the trust list in force names that peer's CA and certificate name
(``hub.peer_trust_anchors``). A list added by ``tongjian hub trust-list install`` in another
process, or taken from a peer by the forwarder, applies while the hub runs: a province added is
admitted, a removed one (or one whose CA was replaced) refused, at the TLS handshake and on every
call of a connection opened before. Real hubs, real TLS, certificates from ``pki``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.server import HubTls
from pki.authority import IssuedFiles, Role, init_ca, issue
from pki.grpc_credentials import channel_credentials
from protos.tongjian.v1 import federation_pb2, ingest_pb2
from tests.federation_rig import National, ProvinceHub, Station, free_port

STATION = "51-0001"
FETCH_TRUST_LIST = "/tongjian.v1.PeerExchange/FetchTrustList"
FAST = 0.2  # a hub's trust_list_refresh_s when a test waits for its watcher
NEVER = 3600.0  # ... when the test must pass without the watcher


@dataclass
class Province:
    code: str
    ca_dir: Path
    ca_pem: bytes
    hub: ProvinceHub
    peer: IssuedFiles  # its hub's peer-hub certificate, CN hub-<code>.peer


def _province(code: str, url: str, national: National, directory: Path, refresh_s: float = 5.0) -> Province:
    ca_dir = directory / f"ca-{code}"
    ca = init_ca(ca_dir, f"Province {code} CA")
    hub_files = issue(ca_dir, Role.HUB, f"hub-{code}", directory / f"hub-{code}")
    peer = issue(ca_dir, Role.PEER_HUB, f"hub-{code}.peer", directory / f"peer-{code}")
    ca_pem = ca.cert_path.read_bytes()
    hub = ProvinceHub(
        code,
        url,
        national.public,
        listen=f"127.0.0.1:{free_port()}",  # a hub never started still has an endpoint to list
        tls=HubTls(hub_files.cert_path.read_bytes(), hub_files.key_path.read_bytes(), ca_pem),
        peer_identity=(peer.cert_path.read_bytes(), peer.key_path.read_bytes()),
        trust_list_refresh_s=refresh_s,
    )
    return Province(code, ca_dir, ca_pem, hub, peer)


def _cas(*provinces: Province) -> Mapping[str, bytes]:
    return {province.code: province.ca_pem for province in provinces}


def _credentials(files: IssuedFiles, server_ca: bytes) -> grpc.ChannelCredentials:
    return channel_credentials(server_ca, files.cert_path.read_bytes(), files.key_path.read_bytes())


def _fetch(channel: grpc.aio.Channel) -> Any:
    return channel.unary_unary(
        FETCH_TRUST_LIST,
        request_serializer=federation_pb2.TrustListRequest.SerializeToString,
        response_deserializer=federation_pb2.TrustListReply.FromString,
    )


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    details: str


async def _call(port: int, files: IssuedFiles, server_ca: bytes) -> Answer:
    """One peer-hub call on a new connection (so a new TLS handshake)."""
    async with grpc.aio.secure_channel(f"localhost:{port}", _credentials(files, server_ca)) as channel:
        try:
            await _fetch(channel)(federation_pb2.TrustListRequest(), timeout=10)
        except grpc.aio.AioRpcError as error:
            return Answer(error.code(), error.details() or "")
    return Answer(grpc.StatusCode.OK, "")


async def _until(
    port: int, files: IssuedFiles, server_ca: bytes, code: grpc.StatusCode, timeout: float
) -> float:
    """Seconds until a new connection's call answers ``code``; fails after ``timeout``."""
    started = time.monotonic()
    while (answer := await _call(port, files, server_ca)).code is not code:
        assert time.monotonic() - started < timeout, f"still {answer} after {timeout} s, wanted {code}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _install_with_the_cli(
    document: federation_pb2.SignedDocument, national: National, hub: ProvinceHub, directory: Path
) -> None:
    """``tongjian hub trust-list install``, as an operator runs it: another process, same database."""
    list_file = directory / f"trust-list-v{national.version}.bin"
    list_file.write_bytes(document.SerializeToString())
    key_file = directory / "national.pub.pem"
    key_file.write_bytes(
        national.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tongjian", "hub", "trust-list", "install", str(list_file),
        "--national-key", str(key_file), "--database-url", hub.database_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, (out, err)


@dataclass
class Three:
    national: National
    chongqing: Province  # the hub under test, running
    sichuan: Province
    guangdong: Province


@pytest.fixture
async def three(databases: Any, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Three]:
    """Chongqing's hub running with trust list version 1 naming Chongqing and Sichuan; Guangdong
    has a CA and a peer-hub certificate but is in no list yet."""
    national = National()
    refresh_s = getattr(request, "param", FAST)
    chongqing = _province("50", databases.new("chongqing"), national, tmp_path, refresh_s)
    sichuan = _province("51", databases.new("sichuan"), national, tmp_path)
    guangdong = _province("44", databases.new("guangdong"), national, tmp_path)
    national.publish(
        [chongqing.hub, sichuan.hub], peer_cas=_cas(chongqing, sichuan), install_at=[chongqing.hub]
    )
    await chongqing.hub.start()
    try:
        yield Three(national, chongqing, sichuan, guangdong)
    finally:
        await chongqing.hub.stop()


@pytest.mark.slow  # runs the CLI as a process of its own
async def test_a_province_added_by_the_cli_is_admitted_without_a_restart(
    three: Three, tmp_path: Path
) -> None:
    port, server_ca = three.chongqing.hub.hub.port, three.chongqing.ca_pem
    assert (await _call(port, three.sichuan.peer, server_ca)).code is grpc.StatusCode.OK
    # Guangdong's CA is not trusted yet: the handshake fails.
    assert (await _call(port, three.guangdong.peer, server_ca)).code is grpc.StatusCode.UNAVAILABLE

    everyone = [three.chongqing, three.sichuan, three.guangdong]
    document = three.national.publish(
        [province.hub for province in everyone], peer_cas=_cas(*everyone), install_at=[]
    )
    await _install_with_the_cli(document, three.national, three.chongqing.hub, tmp_path)

    # Within the hub's refresh interval (0.2 s here; 5 s at most allowing for a loaded machine).
    await _until(port, three.guangdong.peer, server_ca, grpc.StatusCode.OK, timeout=5)
    assert (await _call(port, three.sichuan.peer, server_ca)).code is grpc.StatusCode.OK


@pytest.mark.parametrize("three", [NEVER], indirect=True)
async def test_a_province_removed_is_refused_at_once_even_on_an_open_connection(three: Three) -> None:
    port, server_ca = three.chongqing.hub.hub.port, three.chongqing.ca_pem
    credentials = _credentials(three.sichuan.peer, server_ca)
    async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
        fetch = _fetch(channel)
        await fetch(federation_pb2.TrustListRequest(), timeout=10)
        # Version 2 drops Sichuan, installed into the hub's database behind its back (as the CLI
        # or another replica does); its watcher would not look for an hour.
        three.national.publish(
            [three.chongqing.hub], peer_cas=_cas(three.chongqing), install_at=[three.chongqing.hub]
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await fetch(federation_pb2.TrustListRequest(), timeout=10)  # same connection, no new handshake
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "'hub-51.peer' names no province hub in trust list version 2" in (refused.value.details() or "")
    audit = three.chongqing.hub.hub.store.audit_events(kind="access_refused")
    assert any("hub-51.peer" in row.detail and "trust list version 2" in row.detail for row in audit)
    # A new connection does not get past TLS any more.
    assert (await _call(port, three.sichuan.peer, server_ca)).code is grpc.StatusCode.UNAVAILABLE
    assert (await _call(port, three.chongqing.peer, server_ca)).code is grpc.StatusCode.OK


async def test_a_replaced_peer_ca_takes_over_from_the_old_one(three: Three, tmp_path: Path) -> None:
    port, server_ca = three.chongqing.hub.hub.port, three.chongqing.ca_pem
    old = three.sichuan.peer
    async with grpc.aio.secure_channel(f"localhost:{port}", _credentials(old, server_ca)) as channel:
        fetch = _fetch(channel)
        await fetch(federation_pb2.TrustListRequest(), timeout=10)
        # Sichuan's new CA issues its peer-hub certificate anew, under the same name.
        new_ca = init_ca(tmp_path / "ca-51-new", "Province 51 CA, 2027")
        new = issue(tmp_path / "ca-51-new", Role.PEER_HUB, "hub-51.peer", tmp_path / "peer-51-new")
        three.national.publish(
            [three.chongqing.hub, three.sichuan.hub],
            peer_cas={"50": three.chongqing.ca_pem, "51": new_ca.cert_path.read_bytes()},
            install_at=[three.chongqing.hub],
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await fetch(federation_pb2.TrustListRequest(), timeout=10)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "was not issued by the CA trust list version 2 names for province 51" in (
        refused.value.details() or ""
    )
    await _until(port, new, server_ca, grpc.StatusCode.OK, timeout=5)
    assert (await _call(port, old, server_ca)).code is grpc.StatusCode.UNAVAILABLE


async def test_a_province_added_by_a_list_from_a_peer_is_admitted_at_once(
    databases: Any, tmp_path: Path, make_record: Any
) -> None:
    """Sichuan's forwarder finds a newer list at Chongqing and installs it: Sichuan's TLS server
    trusts the province it adds at once (its watcher would not look for an hour)."""
    national = National()
    sichuan = _province("51", databases.new("sichuan"), national, tmp_path, refresh_s=NEVER)
    chongqing = _province("50", databases.new("chongqing"), national, tmp_path)
    guangdong = _province("44", databases.new("guangdong"), national, tmp_path)
    station_files = issue(sichuan.ca_dir, Role.STATION, STATION, tmp_path / "station")
    national.publish([sichuan.hub, chongqing.hub], peer_cas=_cas(sichuan, chongqing))
    await chongqing.hub.start()
    await sichuan.hub.start()
    try:
        port, server_ca = sichuan.hub.hub.port, sichuan.ca_pem
        assert (await _call(port, guangdong.peer, server_ca)).code is grpc.StatusCode.UNAVAILABLE
        everyone = [sichuan, chongqing, guangdong]
        national.publish([p.hub for p in everyone], peer_cas=_cas(*everyone), install_at=[chongqing.hub])
        # A Chongqing car inspected in Sichuan: forwarding it, Sichuan's forwarder asks Chongqing
        # for a newer list and installs version 2.
        station: Station = sichuan.hub.enrol_station(STATION, tmp_path / "keys")
        record = make_record(0, station_id=STATION)
        chongqing.hub.register_vehicles([record])
        credentials = _credentials(station_files, server_ca)
        async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
            call = channel.stream_stream(
                "/tongjian.v1.StationIngest/Submit", response_deserializer=ingest_pb2.Ack.FromString
            )(iter([station.seal(record)]))
            assert [ack.status async for ack in call] == [ingest_pb2.ACK_STATUS_ACCEPTED]
        deadline = time.monotonic() + 20
        while sichuan.hub.hub.store.trust_lists.installed_version() < 2:
            assert time.monotonic() < deadline, "Sichuan did not take version 2 from Chongqing"
            await asyncio.sleep(0.05)
        await _until(port, guangdong.peer, server_ca, grpc.StatusCode.OK, timeout=2)
    finally:
        await sichuan.hub.stop()
        await chongqing.hub.stop()

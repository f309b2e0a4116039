"""Archive transfers over mutual TLS: a transfer is given only to the hub whose peer-hub
certificate the trust list names for its destination, and the clerks' service only to registry
clerks. Three provinces, each with its own CA: Chongqing (50, source), Sichuan (51, destination),
Guangdong (44, a peer that is not the destination)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from hub.archive_transfer_client import ArchiveTransferClient, TransferCallError
from hub.server import HubTls
from pki.authority import IssuedFiles, Role, init_ca, issue
from pki.grpc_credentials import channel_credentials
from protos.tongjian.v1 import archive_pb2, archive_pb2_grpc
from tests.federation_rig import National, ProvinceHub
from tests.hub.transfer_rig import transfer_settings


def _hub(code: str, url: str, national: National, directory: Path) -> tuple[ProvinceHub, bytes, IssuedFiles]:
    ca = init_ca(directory / f"ca-{code}", f"Province {code} CA")
    hub_files = issue(directory / f"ca-{code}", Role.HUB, f"hub-{code}", directory / f"hub-{code}")
    peer = issue(directory / f"ca-{code}", Role.PEER_HUB, f"hub-{code}.peer", directory / f"peer-{code}")
    ca_pem = ca.cert_path.read_bytes()
    hub = ProvinceHub(
        code,
        url,
        national.public,
        tls=HubTls(hub_files.cert_path.read_bytes(), hub_files.key_path.read_bytes(), ca_pem),
        peer_identity=(peer.cert_path.read_bytes(), peer.key_path.read_bytes()),
        archive_transfer=transfer_settings(directory / f"archives-{code}"),
    )
    return hub, ca_pem, peer


def _as(files: IssuedFiles, server_ca: bytes) -> grpc.ChannelCredentials:
    return channel_credentials(server_ca, files.cert_path.read_bytes(), files.key_path.read_bytes())


async def test_only_the_destination_gets_the_archive_and_only_clerks_ask(
    databases: Any, tmp_path: Path, make_record: Any
) -> None:
    national = National()
    hubs = {code: _hub(code, databases.new(f"hub{code}"), national, tmp_path) for code in ("50", "51", "44")}
    # Ports first (restarts keep them), then the trust list naming every CA, then the TLS hubs.
    for hub, _, _ in hubs.values():
        await hub.start()
        await hub.stop()
    national.publish([hub for hub, _, _ in hubs.values()], peer_cas={c: ca for c, (_, ca, _) in hubs.items()})
    chongqing, chongqing_ca, _ = hubs["50"]
    _, _, sichuan_peer = hubs["51"]
    _, _, guangdong_peer = hubs["44"]
    for hub, _, _ in hubs.values():
        await hub.start()
    try:
        vehicle = make_record(0).vehicle
        chongqing.register_vehicles([make_record(0)])
        source = f"localhost:{chongqing.hub.port}"
        offer = archive_pb2.TransferOffer(
            transfer_id=str(uuid.uuid4()), vin=vehicle.vin, from_province="50", to_province="51"
        )
        # Guangdong's hub claims to be Sichuan asking: wrong destination, and the car stays.
        async with grpc.aio.secure_channel(source, _as(guangdong_peer, chongqing_ca)) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as impostor:
                await archive_pb2_grpc.ArchiveExchangeStub(channel).Offer(offer)
        assert impostor.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "wrong destination: the caller's certificate 'hub-44.peer'" in (impostor.value.details() or "")
        assert chongqing.hub.store.vehicles.get(vehicle.vin).status.value == "active"  # type: ignore[union-attr]
        # Sichuan's hub asks and gets the offer; Guangdong may not fetch the bag of it.
        async with grpc.aio.secure_channel(source, _as(sichuan_peer, chongqing_ca)) as channel:
            reply = await archive_pb2_grpc.ArchiveExchangeStub(channel).Offer(offer)
            assert reply.total_bytes > 0 and reply.plate == vehicle.plate
            first = archive_pb2_grpc.ArchiveExchangeStub(channel).Fetch(
                archive_pb2.FetchRequest(transfer_id=offer.transfer_id)
            )
            assert (await first.read()).pieces[0].file_index == 0
            first.cancel()
        async with grpc.aio.secure_channel(source, _as(guangdong_peer, chongqing_ca)) as channel:
            fetch = archive_pb2_grpc.ArchiveExchangeStub(channel).Fetch(
                archive_pb2.FetchRequest(transfer_id=offer.transfer_id)
            )
            with pytest.raises(grpc.aio.AioRpcError) as stolen:
                await fetch.read()
        assert stolen.value.code() is grpc.StatusCode.PERMISSION_DENIED
        # The clerks' service is for registry clerks: a peer hub's certificate is refused.
        sichuan, sichuan_ca, _ = hubs["51"]
        async with grpc.aio.secure_channel(
            f"localhost:{sichuan.hub.port}", _as(guangdong_peer, sichuan_ca)
        ) as channel:
            with pytest.raises(TransferCallError) as not_a_clerk:
                await ArchiveTransferClient(channel).request(vehicle.vin, "50")
        assert not_a_clerk.value.code is grpc.StatusCode.PERMISSION_DENIED
        assert "registry-clerk" in not_a_clerk.value.message
    finally:
        for hub, _, _ in hubs.values():
            await hub.stop()

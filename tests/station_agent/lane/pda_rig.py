"""The PDA service on a running lane, for PDA tests: TLS from a development CA (a lane-service
certificate, as pki issues them), an inspector directory, a photo store, and call helpers."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from pki.authority import Role, init_ca, issue
from pki.grpc_credentials import server_only_channel_credentials, server_tls_credentials
from protos.tongjian.v1 import lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory
from station_agent.lane import LaneState
from station_agent.pda_service import PdaService, start_pda_server
from station_agent.photo_store import PhotoStore
from tests.station_agent.lane.lane_rig import RunningLane
from tongjian.commands import pda as pda_command


@dataclass(frozen=True)
class LaneServiceTls:
    ca_cert: Path
    cert: Path
    key: Path

    def server(self) -> grpc.ServerCredentials:
        return server_tls_credentials(self.cert, self.key)

    def channel(self) -> grpc.ChannelCredentials:
        return server_only_channel_credentials(self.ca_cert)


def lane_service_tls(directory: Path) -> LaneServiceTls:
    ca = init_ca(directory / "ca", "PDA test CA")
    files = issue(directory / "ca", Role.LANE_SERVICE, "lanes-50-0001", directory / "pda")
    return LaneServiceTls(ca.cert_path, files.cert_path, files.key_path)


MAX_PHOTO = 4096
INSPECTOR = "insp-07"
STATION = "50-0001"


@dataclass
class Pda:
    stub: lane_pb2_grpc.LaneServiceStub
    address: str
    token: str
    credential: str
    directory: InspectorDirectory
    photos: PhotoStore
    lane: RunningLane
    service: PdaService
    tls: LaneServiceTls

    @property
    def cli_server(self) -> list[str]:
        """``tongjian pda`` arguments that reach this service."""
        return ["--server", self.address, "--ca", str(self.tls.ca_cert)]

    def issue(self, inspector: str, lanes: Iterable[int] = (1,), station: str = STATION) -> str:
        return self.directory.issue(inspector, station_id=station, lanes=lanes)


@pytest.fixture
async def pda(running_lane: RunningLane, tmp_path: Path) -> AsyncIterator[Pda]:
    """The lane's PDA service over TLS, and inspector 07 signed in with a credential for lane 1."""
    directory = InspectorDirectory(tmp_path / "inspectors.sqlite3")
    credential = directory.issue(INSPECTOR, name="Li Wei", station_id=STATION, lanes=[1])
    photos = PhotoStore(tmp_path / "photos", max_bytes=MAX_PHOTO)
    tls = lane_service_tls(tmp_path / "pki")
    service = PdaService(running_lane.lane, directory, photos)
    server, port = await start_pda_server(service, credentials=tls.server())
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.secure_channel(address, tls.channel()) as channel:
            stub = lane_pb2_grpc.LaneServiceStub(channel)
            reply = await stub.SignIn(lane_pb2.SignInRequest(inspector_id=INSPECTOR, credential=credential))
            yield Pda(
                stub, address, reply.session_token, credential, directory, photos, running_lane, service, tls
            )
    finally:
        await server.stop(None)


async def visual_record(pda: Pda, fuel: str = "electric") -> str:
    """Check a vehicle in and wait until its benches are done (VISUAL)."""
    record_id = await pda.lane.check_in(fuel)
    view = await pda.lane.lane.wait_for(record_id, LaneState.VISUAL)
    assert view.state is LaneState.VISUAL, view.error
    return str(record_id)


def chunks(header: lane_pb2.PhotoHeader | None, data: bytes, size: int = 1000) -> list[lane_pb2.PhotoChunk]:
    parts = [] if header is None else [lane_pb2.PhotoChunk(header=header)]
    return parts + [lane_pb2.PhotoChunk(data=data[i : i + size]) for i in range(0, len(data), size)]


async def upload(pda: Pda, record_id: str, data: bytes, item: str = "0111", token: str | None = None,
                 content_type: str = "image/jpeg") -> lane_pb2.UploadPhotoResponse:  # fmt: skip
    header = lane_pb2.PhotoHeader(
        session_token=pda.token if token is None else token,
        record_id=record_id,
        item_code=item,
        content_type=content_type,
    )
    return await pda.stub.UploadPhoto(iter(chunks(header, data)))


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def items(*codes: str) -> list[lane_pb2.CheckItem]:
    return [lane_pb2.CheckItem(item_code=c, passed=True, note=f"ok {c}") for c in codes]


def stored_files(pda: Pda) -> list[Path]:
    return sorted(p for p in pda.photos.root.rglob("*") if p.is_file()) if pda.photos.root.exists() else []


def run_cli(argv: list[str], stdin: str = "") -> tuple[int, str]:
    """``tongjian pda ...`` in-process: the pda parser, its handler, stdout captured."""
    parser = argparse.ArgumentParser(prog="tongjian")
    pda_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pda", *argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), _stdin(stdin):
        status = args.handler(args)
    return status, out.getvalue()


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved

"""Certificate roles are authoritative: each role (the subject OU that ``pki issue --role`` writes)
against each service the hub serves, over real mutual TLS. Submit is for stations only; health and
reflection are open; a certificate without a known role gets nothing else."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hub.access import OPEN_SERVICES, RPC_ROLES
from hub.server import HubServer, HubTls
from pki.authority import Role, init_ca, issue
from protos.tongjian.v1 import ingest_pb2, ingest_pb2_grpc

STATION = "50-0001"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    init_ca(root / "ca")
    issue(root / "ca", Role.HUB, "hub-50", root / "hub")
    for role in Role:
        # Every certificate names the station: only the role may decide.
        issue(root / "ca", role, STATION, root / role.value)
    return root


def _credentials(ca: Path, role: Role) -> grpc.ChannelCredentials:
    folder = ca / role.value
    return grpc.ssl_channel_credentials(
        (ca / "ca" / "ca.cert.pem").read_bytes(),
        (folder / f"{STATION}.key.pem").read_bytes(),
        (folder / f"{STATION}.cert.pem").read_bytes(),
    )


@pytest.fixture
async def tls_hub(ca: Path, hub_config, enrol, station_key):  # type: ignore[no-untyped-def]
    tls = HubTls(
        cert_pem=(ca / "hub" / "hub-50.cert.pem").read_bytes(),
        key_pem=(ca / "hub" / "hub-50.key.pem").read_bytes(),
        client_ca_pem=(ca / "ca" / "ca.cert.pem").read_bytes(),
    )
    async with HubServer(hub_config(tls=tls, insecure_ok=False)) as hub:
        yield enrol(hub, station_key)


async def _submit(channel: grpc.aio.Channel, station, make_record) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    method: Any = channel.stream_stream(
        "/tongjian.v1.StationIngest/Submit", response_deserializer=ingest_pb2.Ack.FromString
    )
    call = method()
    try:
        # Written, not streamed from an iterator: a hub that refuses the call before reading it
        # would otherwise race the client's write and surface as INTERNAL on this side.
        await call.write(station.seal(make_record(0)).SerializeToString())
        await call.done_writing()
    except (asyncio.InvalidStateError, grpc.aio.AioRpcError):
        pass  # the call is over: its status, read below, says why
    acks = []
    try:
        while (ack := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
            acks.append(ack)
    except grpc.aio.AioRpcError as error:
        return error.code()
    assert [a.status for a in acks] in ([ingest_pb2.ACK_STATUS_ACCEPTED], [ingest_pb2.ACK_STATUS_DUPLICATE])
    return grpc.StatusCode.OK


async def _health(channel: grpc.aio.Channel, *_: object) -> grpc.StatusCode:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    return grpc.StatusCode.OK


async def _reflection(channel: grpc.aio.Channel, *_: object) -> grpc.StatusCode:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = [r async for r in stub.ServerReflectionInfo(iter([request]))]
    assert "tongjian.v1.StationIngest" in {s.name for s in response.list_services_response.service}
    return grpc.StatusCode.OK


async def _enrollment(channel: grpc.aio.Channel, station, *_: object) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    stub = ingest_pb2_grpc.StationEnrollmentStub(channel)
    reply = await stub.CheckEnrollment(
        ingest_pb2.EnrollmentRequest(station_id=STATION, key_id=station.key_id)
    )
    assert reply.status == ingest_pb2.ENROLLMENT_STATUS_ENROLLED, reply.detail
    return grpc.StatusCode.OK


SERVICES = {
    "StationIngest.Submit": _submit,
    "StationEnrollment.CheckEnrollment": _enrollment,
    "Health.Check": _health,
    "ServerReflection": _reflection,
}
STATION_ONLY = {"StationIngest.Submit", "StationEnrollment.CheckEnrollment"}
OK, DENIED, NO_TLS = grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE


def _expected(service: str, role: Role) -> grpc.StatusCode:
    if role in (Role.HUB, Role.LANE_SERVICE):
        return NO_TLS  # a server-only certificate (EKU serverAuth) fails the handshake as a client
    if service in STATION_ONLY:
        return OK if role is Role.STATION else DENIED
    return OK  # health and reflection are open


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize("service", list(SERVICES))
async def test_each_role_against_each_service(
    tls_hub, ca: Path, make_record, role: Role, service: str
) -> None:  # type: ignore[no-untyped-def]
    async with grpc.aio.secure_channel(f"localhost:{tls_hub.hub.port}", _credentials(ca, role)) as channel:
        try:
            code = await SERVICES[service](channel, tls_hub, make_record)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code is DENIED:
                assert f"role {role.value!r}" in (error.details() or "")
    assert code is _expected(service, role)
    if service == "StationIngest.Submit" and role is not Role.STATION:
        assert tls_hub.hub.store.count_records() == 0


def test_every_rpc_in_the_table_names_known_roles_and_open_services_are_standard() -> None:
    assert all(roles and roles <= set(Role) for roles in RPC_ROLES.values())
    assert "grpc.health.v1.Health" in OPEN_SERVICES

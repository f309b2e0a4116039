"""Sign-ins are throttled per inspector id and per peer: growing delays, then a lockout an
administrator lifts; counted in a metric. Before this, about 22 wrong guesses a second went through.
The throttle itself (web_serving.sign_in_throttle) is tested in tests/web_serving/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from protos.tongjian.v1 import lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory
from station_agent.pda_service import PDA_SIGN_IN_POLICY, PdaService, start_pda_server
from station_agent.photo_store import PhotoStore
from tests.station_agent.lane.lane_rig import RunningLane
from tests.station_agent.lane.pda_rig import STATION, Pda, lane_service_tls, refused, run_cli
from tongjian.cli import CommandError
from web_serving.sign_in_throttle import KeyKind, SignInThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the service ---------------------------------------------------------------------------------


@dataclass
class Guarded:
    stub: lane_pb2_grpc.LaneServiceStub
    service: PdaService
    directory: InspectorDirectory
    registry: CollectorRegistry
    clock: FakeClock
    credential: str

    def refusals(self, reason: str) -> float:
        return (
            self.registry.get_sample_value("tongjian_pda_sign_in_refusals_total", {"reason": reason}) or 0.0
        )

    def sign_in(self, inspector: str, credential: str) -> object:
        return self.stub.SignIn(lane_pb2.SignInRequest(inspector_id=inspector, credential=credential))


@pytest.fixture
async def guarded(running_lane: RunningLane, tmp_path: Path) -> AsyncIterator[Guarded]:
    directory = InspectorDirectory(tmp_path / "inspectors.sqlite3")
    credential = directory.issue("insp-07", station_id=STATION, lanes=[1])
    clock, registry = FakeClock(), CollectorRegistry()
    service = PdaService(
        running_lane.lane,
        directory,
        PhotoStore(tmp_path / "photos"),
        throttle=SignInThrottle(PDA_SIGN_IN_POLICY, clock),
        registry=registry,
    )
    tls = lane_service_tls(tmp_path / "pki")
    server, port = await start_pda_server(service, credentials=tls.server())
    try:
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", tls.channel()) as channel:
            yield Guarded(
                lane_pb2_grpc.LaneServiceStub(channel), service, directory, registry, clock, credential
            )
    finally:
        await server.stop(None)


async def test_a_burst_of_wrong_guesses_reaches_the_credential_check_only_a_few_times(pda: Pda) -> None:
    # The real clock: thirty guesses as fast as a script sends them.
    outcomes = []
    for i in range(30):
        error = await refused(
            pda.stub.SignIn(lane_pb2.SignInRequest(inspector_id="insp-07", credential=f"guess-{i}"))
        )
        outcomes.append(error.code())
    policy = pda.service.throttle.policy
    assert outcomes.count(grpc.StatusCode.UNAUTHENTICATED) == policy.free_failures + 1
    assert outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 30 - policy.free_failures - 1


async def test_growing_delays_then_a_lockout_an_administrator_lifts(guarded: Guarded, tmp_path: Path) -> None:
    policy = guarded.service.throttle.policy
    assert policy.lockout_after is not None  # the PDA's policy locks out; the console's does not
    delays = []
    for attempt in range(1, policy.lockout_after + 1):
        error = await refused(guarded.sign_in("insp-07", "wrong"))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        delay = policy.delay_after(attempt)
        if delay and attempt < policy.lockout_after:
            # too soon: refused unverified, saying how long to wait
            early = await refused(guarded.sign_in("insp-07", guarded.credential))
            assert early.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert f"retry in {round(delay)} s" in (early.details() or "")
        delays.append(delay)
        guarded.clock.now += delay
    assert delays == sorted(delays) and delays[-1] > delays[policy.free_failures]  # growing
    # locked out: even the right credential is refused, by a lockout the directory keeps
    locked = await refused(guarded.sign_in("insp-07", guarded.credential))
    assert locked.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "locked out" in (locked.details() or "") and "tongjian pda unlock" in (locked.details() or "")
    guarded.clock.now += 24 * 3600  # time alone does not lift it
    assert (
        await refused(guarded.sign_in("insp-07", guarded.credential))
    ).code() is grpc.StatusCode.PERMISSION_DENIED
    assert guarded.registry.get_sample_value("tongjian_pda_sign_in_lockouts_total") == 1.0
    assert guarded.refusals("wrong_credential") == policy.lockout_after
    assert guarded.refusals("throttled") >= 1 and guarded.refusals("locked_out") == 2

    status, out = await asyncio.to_thread(
        run_cli, ["unlock", "--inspector", "insp-07", "--directory", str(guarded.directory.path)]
    )
    assert status == 0 and "unlocked insp-07" in out
    reply = await guarded.stub.SignIn(
        lane_pb2.SignInRequest(inspector_id="insp-07", credential=guarded.credential)
    )
    assert reply.session_token
    with pytest.raises(CommandError, match="not locked out"):
        await asyncio.to_thread(
            run_cli, ["unlock", "--inspector", "insp-07", "--directory", str(guarded.directory.path)]
        )


async def test_guessing_across_inspector_ids_is_throttled_by_address(guarded: Guarded) -> None:
    policy = guarded.service.throttle.policy
    for i in range(policy.address_free_failures + 1):
        error = await refused(guarded.sign_in(f"nobody-{i}", "wrong"))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    error = await refused(guarded.sign_in("insp-07", guarded.credential))
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "from this address" in (error.details() or "")
    guarded.clock.now += policy.delay_after(policy.address_free_failures + 1, KeyKind.ADDRESS)
    await guarded.stub.SignIn(lane_pb2.SignInRequest(inspector_id="insp-07", credential=guarded.credential))

"""Two real hubs witness each other's audit logs over PeerExchange.Witness: Chongqing (50) shows
its signed checkpoints to Sichuan (51), which keeps the newest consistent one; when Chongqing's
log is rewritten (an old entry deleted and the chain recomputed), Sichuan refuses its next
checkpoint and records the alarm: in its own audit log, its metrics and `hub audit witnesses`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from sqlalchemy import create_engine

from hub.store import AuditEntry, HubStore
from hub.witness import WITNESS_ALARM
from protos.tongjian.v1 import federation_pb2
from tests.federation_rig import National, ProvinceHub
from tests.hub.audit_rig import delete_and_rechain
from tongjian.cli import main

FAST = {"audit_interval_s": 0.2, "witness_interval_s": 0.2}


async def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def hubs(databases: Any) -> AsyncIterator[tuple[National, ProvinceHub, ProvinceHub]]:
    national = National()
    chongqing = ProvinceHub("50", databases.new("chongqing"), national.public, **FAST)  # type: ignore[arg-type]
    sichuan = ProvinceHub("51", databases.new("sichuan"), national.public, **FAST)  # type: ignore[arg-type]
    await chongqing.start()
    await sichuan.start()
    try:
        national.publish([chongqing, sichuan])
        yield national, chongqing, sichuan
    finally:
        await chongqing.stop()
        await sichuan.stop()


def _notes(hub: ProvinceHub, count: int, tag: str) -> None:
    hub.hub.store.append_audit([AuditEntry("note", f"{tag} {n}") for n in range(count)])
    hub.hub.checkpointer.wake()


def _held(witness: ProvinceHub, province: str) -> int:
    held = witness.hub.store.peer_checkpoints.held(province)
    return held.size if held is not None else 0


async def test_a_peer_keeps_consistent_checkpoints_and_refuses_a_rewritten_log(
    hubs: tuple[National, ProvinceHub, ProvinceHub], capsys: pytest.CaptureFixture[str]
) -> None:
    _national, chongqing, sichuan = hubs
    _notes(chongqing, 5, "first")
    size = chongqing.hub.store.audit_tree.size()
    await _wait_for(lambda: _held(sichuan, "50") == size, "Sichuan to hold Chongqing's first checkpoint")
    _notes(chongqing, 7, "second")
    size = chongqing.hub.store.audit_tree.size()
    # Sichuan holds the first; this one needs a consistency proof (two calls, the second with it).
    await _wait_for(lambda: _held(sichuan, "50") == size, "Sichuan to hold Chongqing's second checkpoint")
    assert chongqing.hub.witnesser.results["51"].status == "accepted"
    held = sichuan.hub.store.peer_checkpoints.held("50")
    assert held is not None and held.alarm is None
    latest = chongqing.hub.store.audit_tree.latest()
    assert latest is not None and held.root == latest.root

    # Chongqing's operator deletes entry 2 and recomputes the chain (and drops the checkpoints
    # that would give it away); alone, the log now verifies.
    await chongqing.stop()
    engine = create_engine(chongqing.database_url)
    try:
        delete_and_rechain(engine, 2)
    finally:
        engine.dispose()
    store = HubStore(chongqing.database_url)
    try:
        assert store.audit.verify().ok
        store.append_audit([AuditEntry("note", f"after {n}") for n in range(3)])
    finally:
        store.dispose()
    await chongqing.start()  # signs a fresh checkpoint of the rewritten log and shows it to Sichuan

    await _wait_for(
        lambda: (h := sichuan.hub.store.peer_checkpoints.held("50")) is not None and h.alarm is not None,
        "Sichuan's alarm",
    )
    held_after = sichuan.hub.store.peer_checkpoints.held("50")
    assert held_after is not None
    assert (held_after.size, held_after.root) == (held.size, held.root)  # the honest checkpoint stays
    assert (
        held_after.refused is not None and b"\n" + str(size + 2).encode() + b"\n" in held_after.refused.body
    )
    assert "not consistent with the held size" in (held_after.alarm or "")
    alarms = sichuan.hub.store.audit_events(kind=WITNESS_ALARM)
    assert len(alarms) == 1 and "province 50" in alarms[0].detail
    assert sichuan.hub.metrics.witness_alarms.labels("50")._value.get() >= 1
    await _wait_for(
        lambda: (r := chongqing.hub.witnesser.results.get("51")) is not None and r.status == "refused",
        "Chongqing to hear that Sichuan refused",
    )
    assert main(["hub", "audit", "witnesses", "--database-url", sichuan.database_url]) == 1
    assert "ALARM since" in capsys.readouterr().out
    # Sichuan's own log, with the alarm in it, is whole; and Chongqing holds Sichuan's checkpoints.
    assert sichuan.hub.store.audit.verify().ok
    await _wait_for(lambda: _held(chongqing, "51") > 0, "Chongqing to hold Sichuan's checkpoint")


async def test_witness_calls_that_are_not_about_a_peer_are_refused_before_any_check(
    hubs: tuple[National, ProvinceHub, ProvinceHub],
) -> None:
    _national, chongqing, sichuan = hubs
    _notes(chongqing, 2, "x")
    await _wait_for(lambda: chongqing.hub.store.audit_tree.latest() is not None, "a checkpoint")
    latest = chongqing.hub.store.audit_tree.latest()
    assert latest is not None
    checkpoint = federation_pb2.SignedDocument(
        body=latest.signed.body, key_id=latest.signed.key_id, signature=latest.signed.signature
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{sichuan.hub.port}") as channel:
        witness = channel.unary_unary(
            "/tongjian.v1.PeerExchange/Witness",
            request_serializer=federation_pb2.WitnessRequest.SerializeToString,
            response_deserializer=federation_pb2.WitnessReply.FromString,
        )
        for request, code, text in [
            (
                federation_pb2.WitnessRequest(province="44", checkpoint=checkpoint),
                "INVALID_ARGUMENT",
                "not a peer",
            ),
            (
                federation_pb2.WitnessRequest(province="51", checkpoint=checkpoint),
                "INVALID_ARGUMENT",
                "not a peer",
            ),
            (
                federation_pb2.WitnessRequest(
                    province="50", checkpoint=checkpoint, old_size=1, consistency_proof=[b"short"]
                ),
                "INVALID_ARGUMENT",
                "32 bytes",
            ),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await witness(request)
            assert refused.value.code().name == code and text in (refused.value.details() or "")
        # Signed by another key than the trust list names: refused, but no alarm about Chongqing.
        forged = federation_pb2.SignedDocument(
            body=latest.signed.body, key_id=latest.signed.key_id, signature=b"\0" * 64
        )
        reply = await witness(federation_pb2.WitnessRequest(province="50", checkpoint=forged))
        assert reply.status == federation_pb2.WITNESS_STATUS_REFUSED and "does not verify" in reply.reason
    assert sichuan.hub.store.audit_events(kind=WITNESS_ALARM) == []

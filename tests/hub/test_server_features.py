"""Health checking, server reflection and the Prometheus endpoint of a running hub."""

from __future__ import annotations

import asyncio
import logging
import urllib.request

import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hub.server import HubServer


async def test_health_is_serving_and_reflection_lists_the_ingest_service(enrolled) -> None:  # type: ignore[no-untyped-def]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{enrolled.hub.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "tongjian.v1.StationIngest"):
            response = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        services = {
            service.name async for response in call for service in response.list_services_response.service
        }
    assert "tongjian.v1.StationIngest" in services
    assert "grpc.health.v1.Health" in services


async def test_metrics_endpoint_counts_received_accepted_duplicate_and_rejected(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    async with HubServer(hub_config(metrics_listen="127.0.0.1:0")) as hub:
        station = enrol(hub, station_key)
        envelope = station.seal(make_record(0))
        await submit(hub.port, [envelope, envelope, b"\x00garbage"])
        url = f"http://127.0.0.1:{hub.metrics_port}/metrics"
        body = (await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())).decode()
    assert "tongjian_hub_records_received_total 3.0" in body
    assert "tongjian_hub_records_accepted_total 1.0" in body
    assert "tongjian_hub_records_duplicate_total 1.0" in body
    assert 'tongjian_hub_records_rejected_total{reason="not_an_envelope"} 1.0' in body
    assert "tongjian_hub_commit_batch_size_count" in body
    assert "tongjian_hub_ingest_latency_seconds_bucket" in body


async def test_a_stop_step_that_hangs_is_named_and_still_awaited(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A hung hub stop must say which step hangs (one did in CI, under load, unnamed) without cutting
    the step off: a committer stopped mid-commit would lose what it was writing."""
    from hub import server as hub_server

    monkeypatch.setattr(hub_server, "STOP_STEP_WARN_S", 0.05)
    finished: list[str] = []

    async def slow_close() -> None:
        await asyncio.sleep(0.3)
        finished.append("committer")

    with caplog.at_level(logging.ERROR, logger="hub.server"):
        await hub_server._stop_step("the group committer (last commits)", slow_close)
    assert finished == ["committer"]
    assert "the group committer (last commits) has not finished after" in caplog.text


async def test_a_cancelled_stop_cancels_its_step() -> None:
    from hub import server as hub_server

    started = asyncio.Event()
    cancelled: list[bool] = []

    async def never_ends() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    stopping = asyncio.create_task(hub_server._stop_step("the forwarder", never_ends))
    await started.wait()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    await asyncio.sleep(0)
    assert cancelled == [True]

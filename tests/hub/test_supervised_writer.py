"""The hub owns its tasks and supervises its one writer: a start that fails leaves nothing running,
a batch that fails for any reason fails its records (the station gets UNAVAILABLE and resends), is
logged and counted, and a writer that cannot recover turns gRPC health NOT_SERVING."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.forward_outbox import ForwardRow
from hub.ingest_service import SERVICE_NAME
from hub.server import HubServer
from hub.store import AuditEntry, CommitOutcome, HubStore, RecordRow
from protos.server_port import PortInUse
from protos.tongjian.v1 import ingest_pb2


class FaultyStore(HubStore):
    """The real store, whose ``commit_batch`` raises a non-database error on the chosen calls."""

    def __init__(self, url: str, failing_calls: set[int] | None = None, fail_always: bool = False) -> None:
        super().__init__(url)
        self.calls = 0
        self.failing_calls = failing_calls or set()
        self.fail_always = fail_always

    def commit_batch(
        self,
        records: Sequence[RecordRow],
        audits: Sequence[AuditEntry] = (),
        forwards: Sequence[ForwardRow] = (),
    ) -> list[CommitOutcome]:
        self.calls += 1
        if self.fail_always or self.calls in self.failing_calls:
            raise RuntimeError(f"injected fault in batch {self.calls}")
        return super().commit_batch(records, audits, forwards)


def _other_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_a_start_on_a_busy_port_fails_and_leaves_no_task_running(hub_config) -> None:  # type: ignore[no-untyped-def]
    async with HubServer(hub_config()) as first:
        before = _other_tasks()
        second = HubServer(hub_config(listen=f"127.0.0.1:{first.port}"))
        with pytest.raises(PortInUse, match=f"127.0.0.1:{first.port}"):
            await second.start()
        await asyncio.sleep(0)  # let cancelled tasks finish
        assert _other_tasks() <= before


async def test_a_failed_batch_fails_its_records_and_the_station_resends(
    hub_config, enrol, submit, make_record, station_key, database_url, caplog
) -> None:  # type: ignore[no-untyped-def]
    store = FaultyStore(database_url, failing_calls={2})  # call 1 enrols nothing: it is the first record
    async with HubServer(hub_config(), store=store) as hub:
        station = enrol(hub, station_key)
        store.calls = 1
        record = make_record(0)
        first = await asyncio.wait_for(submit(hub.port, [station.seal(record)]), 10)
        assert first.acks == [] and first.error is not None
        assert first.error.code() is grpc.StatusCode.UNAVAILABLE
        assert hub.metrics.registry.get_sample_value("tongjian_hub_commit_failures_total") == 1
        again = await asyncio.wait_for(submit(hub.port, [station.seal(record)]), 10)
        assert [a.status for a in again.acks] == [ingest_pb2.ACK_STATUS_ACCEPTED]
        assert hub.store.count_records() == 1
    assert "injected fault in batch 2" in caplog.text


async def _health(port: int, service: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        return response.status


async def test_a_writer_that_cannot_recover_turns_health_not_serving(
    hub_config, enrol, submit, make_record, station_key, database_url
) -> None:  # type: ignore[no-untyped-def]
    store = FaultyStore(database_url)
    async with HubServer(hub_config(writer_max_consecutive_failures=3), store=store) as hub:
        station = enrol(hub, station_key)
        store.fail_always = True
        for index in range(3):
            assert await _health(hub.port, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
            outcome = await asyncio.wait_for(submit(hub.port, [station.seal(make_record(index))]), 10)
            assert outcome.error is not None and outcome.error.code() is grpc.StatusCode.UNAVAILABLE
        for service in ("", SERVICE_NAME):
            assert await _health(hub.port, service) == health_pb2.HealthCheckResponse.NOT_SERVING
        store.fail_always = False  # the database is back: the next batch succeeds, health recovers
        outcome = await asyncio.wait_for(submit(hub.port, [station.seal(make_record(9))]), 10)
        assert [a.status for a in outcome.acks] == [ingest_pb2.ACK_STATUS_ACCEPTED]
        assert await _health(hub.port, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING


class BrokenOutcomeStore(HubStore):
    """Commits, then answers with no outcomes: the writer's own loop breaks on it (a bug)."""

    def commit_batch(
        self,
        records: Sequence[RecordRow],
        audits: Sequence[AuditEntry] = (),
        forwards: Sequence[ForwardRow] = (),
    ) -> list[CommitOutcome]:
        super().commit_batch(records, audits, forwards)
        return []


async def test_a_writer_whose_loop_dies_fails_what_waits_refuses_more_and_says_not_serving(
    hub_config, enrol, submit, make_record, station_key, database_url, caplog
) -> None:  # type: ignore[no-untyped-def]
    async with HubServer(hub_config(), store=BrokenOutcomeStore(database_url)) as hub:
        station = enrol(hub, station_key)
        for index in range(2):  # the one the loop died on, and one sent after
            outcome = await asyncio.wait_for(submit(hub.port, [station.seal(make_record(index))]), 10)
            assert outcome.error is not None and outcome.error.code() is grpc.StatusCode.UNAVAILABLE
        for service in ("", SERVICE_NAME):
            assert await _health(hub.port, service) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert "the hub's writer stopped" in caplog.text

"""The uplink against hubs that misbehave in ways the real hub cannot be made to.

These peers are not stand-ins for ``hub``: they implement the generated ``StationIngest`` servicer
to play a hub that stops answering, or one that answers for the wrong record, so the window bound,
the ack watchdog and the FIFO check can be seen failing safe. Delivery itself is tested against
the real hub in ``test_uplink.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc.aio

from inspection import InspectionRecord
from protos.tongjian.v1 import ingest_pb2, ingest_pb2_grpc
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink


class SilentHub(ingest_pb2_grpc.StationIngestServicer):
    """Reads every record and never answers."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.streams = 0

    async def Submit(  # type: ignore[override]
        self, request_iterator: AsyncIterator[pb.SignedRecord], context: grpc.aio.ServicerContext
    ) -> None:
        self.streams += 1
        async for envelope in request_iterator:
            self.received.append(envelope.SerializeToString())


class WrongAckHub(ingest_pb2_grpc.StationIngestServicer):
    """Answers every record with ACCEPTED for a record nobody sent."""

    async def Submit(  # type: ignore[override]
        self, request_iterator: AsyncIterator[pb.SignedRecord], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ingest_pb2.Ack]:
        async for _ in request_iterator:
            yield ingest_pb2.Ack(record_id="00000000-0000-0000-0000-000000000000", status=1)


@asynccontextmanager
async def serve(servicer: ingest_pb2_grpc.StationIngestServicer) -> AsyncIterator[int]:
    server = grpc.aio.server()
    ingest_pb2_grpc.add_StationIngestServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(grace=None)


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def queue(outbox: OutboxStore, signer: RecordSigner, records: list[InspectionRecord]) -> None:
    for record in records:
        outbox.put(signer.seal(record), str(record.record_id))


async def test_no_more_than_window_records_go_unacknowledged(
    outbox: OutboxStore, signer: RecordSigner, make_record: Callable[..., InspectionRecord]
) -> None:
    queue(outbox, signer, [make_record(i) for i in range(20)])
    hub = SilentHub()
    async with serve(hub) as port:
        uplink = Uplink(outbox, f"127.0.0.1:{port}", window=5, ack_timeout_s=30.0, poll_interval_s=0.05)
        await uplink.start()
        try:
            await wait_until(lambda: len(hub.received) >= 5)
            await asyncio.sleep(0.5)  # ample time to send more, were the window not enforced
            assert len(hub.received) == 5
            assert uplink.sent == 5
        finally:
            await uplink.stop()
    assert hub.received == [e.envelope_bytes for e in outbox.peek(0, 5)]
    assert outbox.depth() == 20  # nothing acknowledged, nothing removed


async def test_unanswered_records_are_sent_again_on_a_new_stream(
    outbox: OutboxStore, signer: RecordSigner, make_record: Callable[..., InspectionRecord]
) -> None:
    queue(outbox, signer, [make_record(i) for i in range(8)])
    hub = SilentHub()
    async with serve(hub) as port:
        uplink = Uplink(
            outbox, f"127.0.0.1:{port}", window=3, ack_timeout_s=0.3, backoff_min_s=0.05, backoff_max_s=0.1
        )
        await uplink.start()
        try:
            await wait_until(lambda: len(hub.received) >= 6)
        finally:
            await uplink.stop()
    assert hub.streams >= 2
    assert uplink.reconnects >= 1
    assert "AckTimeout" in (uplink.last_error or "")
    first_three = [e.envelope_bytes for e in outbox.peek(0, 3)]
    assert hub.received[:6] == first_three + first_three
    assert outbox.depth() == 8


async def test_an_ack_for_another_record_settles_nothing(
    outbox: OutboxStore, signer: RecordSigner, make_record: Callable[..., InspectionRecord]
) -> None:
    queue(outbox, signer, [make_record(i) for i in range(4)])
    async with serve(WrongAckHub()) as port:
        uplink = Uplink(outbox, f"127.0.0.1:{port}", window=2, backoff_min_s=0.05, backoff_max_s=0.1)
        await uplink.start()
        try:
            await wait_until(lambda: uplink.reconnects >= 2)
        finally:
            await uplink.stop()
    assert "HubProtocolError" in (uplink.last_error or "")
    assert uplink.accepted == 0
    assert outbox.depth() == 4

"""An uplink with two hub replicas' addresses on one PostgreSQL database: when the replica it
streams to stops mid-stream, the records go on to the other, and back to the first once it is up
again and the other stops; every record is stored once, none is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hub.server import HubConfig, HubServer
from hub.store import HubStore
from inspection import InspectionRecord
from protos.record_mapping import record_to_bytes
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink

RecordFactory = Callable[..., InspectionRecord]
PER_ROUND = 150


def _replica(url: str, port: int = 0) -> HubServer:
    return HubServer(HubConfig(database_url=url, listen=f"127.0.0.1:{port}"))


async def _until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.002)
    assert condition(), what


async def test_the_uplink_fails_over_between_replicas_and_back_losing_and_duplicating_nothing(
    databases: Any, outbox: OutboxStore, signer: RecordSigner, station_key: Any, make_record: RecordFactory
) -> None:
    shared = databases.new("province")
    if not shared.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    first, second = _replica(shared), _replica(shared)
    await first.start()
    await second.start()
    first.store.register_station(signer.station_id)
    first.store.add_station_key(signer.station_id, station_key.public_path.read_bytes())
    first_port = first.port
    records = [make_record(i) for i in range(2 * PER_ROUND)]
    for record in records[:PER_ROUND]:
        outbox.put(signer.seal(record), str(record.record_id))
    uplink = Uplink(
        outbox,
        [f"127.0.0.1:{first_port}", f"127.0.0.1:{second.port}"],
        window=8,
        backoff_min_s=0.05,
        backoff_max_s=0.5,
        poll_interval_s=0.05,
    )
    await uplink.start()
    try:
        # The first replica stops with records of the station still on their way.
        await _until(lambda: first.store.count_records() >= 30, "the first replica storing records")
        await first.stop(grace=0)
        assert outbox.depth() > 0
        assert await uplink.drain(timeout=30)
        assert uplink.target == f"127.0.0.1:{second.port}"
        # The first comes back on its address; the second stops in the middle of the next records.
        first = _replica(shared, first_port)
        await first.start()
        stored_before = second.store.count_records()
        for record in records[PER_ROUND:]:
            outbox.put(signer.seal(record), str(record.record_id))
        uplink.notify()
        await _until(
            lambda: second.store.count_records() >= stored_before + 30, "the second replica going on"
        )
        await second.stop(grace=0)
        assert outbox.depth() > 0
        assert await uplink.drain(timeout=30)
        assert uplink.target == f"127.0.0.1:{first_port}"
    finally:
        await uplink.stop()
        await second.stop()
        await first.stop()
    assert uplink.failovers >= 2
    assert uplink.rejected == 0 and uplink.accepted + uplink.duplicate >= len(records)
    assert outbox.depth() == 0 and outbox.rejected() == []
    store = HubStore(shared)
    try:
        assert store.count_records() == len(records)  # each once: nothing lost, nothing twice
        assert len(store.audit_events(10 * len(records), kind="record_stored")) == len(records)
        for record in records:
            stored = store.get_record(str(record.record_id), signer.station_id)
            assert stored is not None and stored.payload == record_to_bytes(record)
    finally:
        store.dispose()

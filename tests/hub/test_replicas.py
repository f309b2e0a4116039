"""Two hub replicas on one PostgreSQL database: stations spread over them, each record stored once,
each forwarding item delivered once.

The replicas are two ``HubServer`` instances, each with its own engine, writer and forwarder, so
everything they share goes through the database as it would between two processes (the benchmark
``benchmarks/hub_ingest.py --replicas`` runs them as processes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protos.tongjian.v1 import ingest_pb2
from tests.conftest import RecordFactory
from tests.federation_rig import National, ProvinceHub, with_registration

pytestmark = pytest.mark.slow

STATIONS = [f"51-{n:04d}" for n in range(1, 5)]
PER_STATION = 60
FAILOVER = 20  # records a station also sends to the other replica, at the same time


async def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _forwarded(replica: ProvinceHub) -> float:
    samples = replica.hub.metrics.forwarded.collect()[0].samples
    return sum(s.value for s in samples if s.name.endswith("_total"))


async def test_two_replicas_store_each_record_once_and_forward_each_item_once(
    databases: Any, tmp_path: Path, make_record: RecordFactory, submit: Any
) -> None:
    shared = databases.new("sichuan")
    if not shared.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    national = National()
    replicas = [ProvinceHub("51", shared, national.public) for _ in range(2)]
    replicas[1].hub_key = replicas[0].hub_key  # one province, one hub key
    chongqing = ProvinceHub("50", databases.new("chongqing"), national.public)
    await chongqing.start()
    for replica in replicas:
        await replica.start()
    try:
        national.publish([replicas[0], chongqing])
        stations = [replicas[0].enrol_station(station_id, tmp_path) for station_id in STATIONS]
        records = {
            station.station_id: [
                # every other car registered in Chongqing: its record is forwarded there
                make_record(k * 1000 + i, station_id=station.station_id)
                if i % 2
                else with_registration(make_record(k * 1000 + i, station_id=station.station_id), "51", "川")
                for i in range(PER_STATION)
            ]
            for k, station in enumerate(stations)
        }
        foreign = [r for rs in records.values() for r in rs if r.vehicle.registration_province == "50"]
        chongqing.register_vehicles(foreign)

        streams = []
        for k, station in enumerate(stations):
            envelopes = [station.seal(r) for r in records[station.station_id]]
            home, other = replicas[k % 2], replicas[(k + 1) % 2]  # round-robin over the replicas
            streams.append(submit(home.hub.port, envelopes))
            streams.append(submit(other.hub.port, envelopes[:FAILOVER]))  # the same records, elsewhere
        outcomes = await asyncio.gather(*streams)

        statuses = []
        for outcome in outcomes:
            assert outcome.error is None, outcome.error
            statuses += [ack.status for ack in outcome.acks]
        total = len(STATIONS) * PER_STATION
        assert len(statuses) == total + len(STATIONS) * FAILOVER
        assert statuses.count(ingest_pb2.ACK_STATUS_ACCEPTED) == total  # one ACCEPTED per record
        assert statuses.count(ingest_pb2.ACK_STATUS_DUPLICATE) == len(STATIONS) * FAILOVER
        for replica in replicas:
            assert replica.hub.store.count_records() == total  # one database: both see every row once

        received = chongqing.hub.store.foreign_records
        outbox = replicas[0].hub.store.outbox
        await _wait_for(lambda: outbox.counts().delivered == len(foreign), "every outbox item delivered")
        assert received.count() == len(foreign)
        # Each item was leased (FOR UPDATE SKIP LOCKED) and sent by one replica only: the two
        # replicas' delivery counts add up to the number of items, not more. A replica counts a
        # delivery after the transaction that marks it returns: wait for the counts as well.
        await _wait_for(
            lambda: _forwarded(replicas[0]) + _forwarded(replicas[1]) >= len(foreign), "deliveries counted"
        )
        assert _forwarded(replicas[0]) + _forwarded(replicas[1]) == len(foreign)
        assert _forwarded(replicas[0]) > 0 and _forwarded(replicas[1]) > 0  # both drained the outbox
    finally:
        for replica in replicas:
            await replica.stop()
        await chongqing.stop()

"""Delivery to the real hub: exactly once, byte-identical, across a hub restart, with rejections parked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from hub.server import HubConfig, HubServer
from inspection import InspectionRecord
from protos.record_mapping import record_to_bytes
from station_agent.agent import StationAgent
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink
from tongjian.commands.keys import write_key_pair

RecordFactory = Callable[..., InspectionRecord]


def hub_config(tmp_path: Path, port: int = 0) -> HubConfig:
    return HubConfig(database_url=f"sqlite:///{tmp_path}/hub.sqlite3", listen=f"127.0.0.1:{port}")


def enrol(hub: HubServer, signer: RecordSigner, public_pem: bytes) -> None:
    hub.store.register_station(signer.station_id)
    assert hub.store.add_station_key(signer.station_id, public_pem) == signer.key_id


def fast_uplink(outbox: OutboxStore, port: int, **options: float) -> Uplink:
    settings: dict[str, float] = {"backoff_min_s": 0.05, "backoff_max_s": 0.5, "poll_interval_s": 0.2}
    settings.update(options)
    return Uplink(outbox, f"127.0.0.1:{port}", **settings)  # type: ignore[arg-type]


def assert_stored_exactly_as_signed(hub: HubServer, records: list[InspectionRecord]) -> None:
    assert hub.store.count_records() == len(records)
    for record in records:
        assert hub.store.get_record(str(record.record_id)).payload == record_to_bytes(record)


async def test_records_submitted_while_running_are_delivered_exactly_once(
    tmp_path: Path, outbox: OutboxStore, signer: RecordSigner, station_key, make_record: RecordFactory
) -> None:  # type: ignore[no-untyped-def]
    records = [make_record(i) for i in range(200)]
    async with HubServer(hub_config(tmp_path)) as hub:
        enrol(hub, signer, station_key.public_path.read_bytes())
        uplink = fast_uplink(outbox, hub.port, poll_interval_s=30.0)  # only notify() can wake it in time
        agent = StationAgent(signer.station_id, signer, outbox, uplink)
        await uplink.start()
        try:
            for record in records:
                await agent.submit(record)
            assert await uplink.drain(timeout=30)
        finally:
            await uplink.stop()
        assert_stored_exactly_as_signed(hub, records)
    assert (uplink.sent, uplink.accepted, uplink.duplicate, uplink.rejected) == (200, 200, 0, 0)
    assert outbox.depth() == 0


async def test_a_hub_restart_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, outbox: OutboxStore, signer: RecordSigner, station_key, make_record: RecordFactory
) -> None:  # type: ignore[no-untyped-def]
    records = [make_record(i) for i in range(600)]
    for record in records:
        outbox.put(signer.seal(record), str(record.record_id))
    async with HubServer(hub_config(tmp_path)) as hub:
        enrol(hub, signer, station_key.public_path.read_bytes())
        port = hub.port
        uplink = fast_uplink(outbox, port, window=8)
        await uplink.start()
        async with asyncio.timeout(30):
            while hub.store.count_records() < 50:
                await asyncio.sleep(0.002)
    # The hub is gone with records still on their way.
    left_at_stop = outbox.depth()
    try:
        assert left_at_stop > 0
        async with asyncio.timeout(30):
            while uplink.connected:  # until the uplink has seen the hub gone and tries to reconnect
                await asyncio.sleep(0.002)
        async with HubServer(hub_config(tmp_path, port)) as hub:
            assert await uplink.drain(timeout=30)
            assert_stored_exactly_as_signed(hub, records)
    finally:
        await uplink.stop()
    assert uplink.reconnects >= 1
    assert uplink.accepted + uplink.duplicate == len(records)
    assert uplink.rejected == 0
    assert outbox.depth() == 0


async def test_a_rejected_record_is_parked_with_the_hubs_reason(
    tmp_path: Path, outbox: OutboxStore, signer: RecordSigner, station_key, make_record: RecordFactory
) -> None:  # type: ignore[no-untyped-def]
    # A second key of the same station that nobody registered at the hub.
    stray_private, _, _ = write_key_pair(signer.station_id, tmp_path / "stray")
    stray = RecordSigner.from_pem_file(signer.station_id, stray_private)
    records = [make_record(i) for i in range(20)]
    bad = {records[5].record_id, records[12].record_id}
    for record in records:
        sealer = stray if record.record_id in bad else signer
        outbox.put(sealer.seal(record), str(record.record_id))
    async with HubServer(hub_config(tmp_path)) as hub:
        enrol(hub, signer, station_key.public_path.read_bytes())
        uplink = fast_uplink(outbox, hub.port, window=4)
        await uplink.start()
        try:
            assert await uplink.drain(timeout=30)
        finally:
            await uplink.stop()
        assert_stored_exactly_as_signed(hub, [r for r in records if r.record_id not in bad])
    parked = outbox.rejected()
    assert {entry.record_id for entry in parked} == {str(record_id) for record_id in bad}
    assert all(entry.reason for entry in parked)
    assert (uplink.accepted, uplink.rejected) == (18, 2)
    assert outbox.depth() == 0

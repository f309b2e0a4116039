"""The hand-over point: what the lane sees when it submits a record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inspection import InspectionRecord
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.agent import StationAgent
from station_agent.outbox import OutboxFull, OutboxStore
from station_agent.record_signer import ForeignRecord, RecordSigner
from station_agent.uplink import Uplink


def agent_for(outbox: OutboxStore, signer: RecordSigner) -> StationAgent:
    # The uplink is never started here: submit() only queues and notifies.
    return StationAgent(signer.station_id, signer, outbox, Uplink(outbox, "127.0.0.1:1"))


async def test_submit_queues_the_sealed_record(
    outbox: OutboxStore, signer: RecordSigner, make_record: Callable[..., InspectionRecord]
) -> None:
    agent = agent_for(outbox, signer)
    record = make_record(1)
    assert await agent.submit(record) == str(record.record_id)
    assert await agent.submit(record) == str(record.record_id)  # a retried hand-over queues nothing new
    (entry,) = outbox.peek(0, 10)
    assert entry.record_id == str(record.record_id)
    envelope = pb.SignedRecord.FromString(entry.envelope_bytes)
    assert envelope.record == record_to_bytes(record)
    assert envelope.key_id == signer.key_id


async def test_submit_refuses_another_stations_record(
    outbox: OutboxStore, signer: RecordSigner, make_record: Callable[..., InspectionRecord]
) -> None:
    with pytest.raises(ForeignRecord):
        await agent_for(outbox, signer).submit(make_record(1, station_id="50-0009"))
    assert outbox.depth() == 0


async def test_a_full_outbox_reaches_the_lane(
    tmp_path: Path, signer: RecordSigner, make_record: Callable[..., InspectionRecord]
) -> None:
    with OutboxStore(tmp_path / "small.sqlite3", max_depth=2) as small:
        agent = agent_for(small, signer)
        await agent.submit(make_record(1))
        await agent.submit(make_record(2))
        with pytest.raises(OutboxFull):
            await agent.submit(make_record(3))
        assert small.depth() == 2


def test_agent_and_signer_must_be_the_same_station(outbox: OutboxStore, signer: RecordSigner) -> None:
    with pytest.raises(ValueError, match="signer signs for station"):
        StationAgent("50-0002", signer, outbox, Uplink(outbox, "127.0.0.1:1"))

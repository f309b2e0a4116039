"""Several streams at once through one group committer: every record stored exactly once."""

from __future__ import annotations

import asyncio

from hub.server import HubServer
from protos.tongjian.v1 import ingest_pb2


async def test_four_streams_of_500_overlapping_records_store_each_record_once(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    records = [make_record(i) for i in range(1_700)]
    # The fixture's records finish ten minutes apart, the last ones days ahead of the wall clock:
    # the hub receives them after the last one finished.
    received_at = records[-1].finished_at
    async with HubServer(hub_config(group_commit_max=128, clock=lambda: received_at)) as hub:
        station = enrol(hub, station_key)
        envelopes = [station.seal(record).SerializeToString() for record in records]
        # Stream k sends records 400k .. 400k+499: neighbours share 100 records, sent concurrently.
        streams = [envelopes[400 * k : 400 * k + 500] for k in range(4)]
        stream_ids = [[str(r.record_id) for r in records[400 * k : 400 * k + 500]] for k in range(4)]
        outcomes = await asyncio.gather(*(submit(hub.port, stream) for stream in streams))
        statuses = [ack.status for outcome in outcomes for ack in outcome.acks]
        for outcome, ids in zip(outcomes, stream_ids, strict=True):
            assert outcome.error is None
            assert [ack.record_id for ack in outcome.acks] == ids  # one Ack each, in arrival order
        assert statuses.count(ingest_pb2.ACK_STATUS_ACCEPTED) == 1_700
        assert statuses.count(ingest_pb2.ACK_STATUS_DUPLICATE) == 300
        assert hub.store.count_records() == 1_700
        batches = hub.metrics.batch_size.collect()[0].samples
        count = next(s.value for s in batches if s.name.endswith("_count"))
        assert count < 2_000  # records were really committed in groups

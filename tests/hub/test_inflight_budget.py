"""The hub-wide budget of bytes read and not yet answered."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import generate_latest

from hub.errors import HubConfigError
from hub.inflight_budget import InflightBudget
from hub.server import HubServer


async def test_a_reader_waits_for_room_and_an_oversize_record_passes_alone() -> None:
    budget = InflightBudget(100)
    first = await budget.acquire(60)
    waiting = asyncio.ensure_future(budget.acquire(50))
    await asyncio.sleep(0.01)
    assert not waiting.done() and budget.used_bytes == 60
    budget.release(first)
    assert await asyncio.wait_for(waiting, 1) == 50
    huge = asyncio.ensure_future(budget.acquire(10_000))  # larger than the whole budget
    await asyncio.sleep(0.01)
    assert not huge.done()
    budget.release(50)
    assert await asyncio.wait_for(huge, 1) == 100 and budget.peak_bytes == 100
    budget.release(100)
    assert budget.used_bytes == 0
    with pytest.raises(HubConfigError, match="at least 1"):
        InflightBudget(0)


async def test_the_hub_stops_reading_at_its_budget_and_still_stores_everything(
    hub_config, enrol, submit, make_record, station_key, signer
) -> None:  # type: ignore[no-untyped-def]
    envelopes = [signer.seal(make_record(i)) for i in range(60)]
    budget = 4 * max(len(e.SerializeToString()) for e in envelopes)
    # Commits held back, room for about four records: the three streams wait instead of piling up.
    config = hub_config(max_inflight_bytes=budget, group_commit_wait_ms=50, group_commit_max=1000)
    async with HubServer(config) as hub:
        enrol(hub, station_key)
        outcomes = await asyncio.gather(*(submit(hub.port, envelopes[i::3]) for i in range(3)))
        assert all(o.error is None and len(o.acks) == 20 for o in outcomes)
        assert hub.store.count_records() == 60
        service = hub.ingest
        assert budget * 3 // 4 <= service.budget.peak_bytes <= budget  # reached, never passed
        assert service.budget.used_bytes == 0  # everything given back
        assert "tongjian_hub_inflight_bytes 0.0" in generate_latest(hub.metrics.registry).decode()

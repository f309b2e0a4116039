"""The station agent's hand-over point: where a lane gives up a finished record for delivery.

``submit`` seals the record, commits it to the outbox and wakes the uplink. When it returns, the
record is on disk and will reach the hub (or the dead-letter table) even if the station loses
power the next instant; when it raises (``ForeignRecord``, ``OutboxFull``, a disk error), nothing
was queued and the lane must keep the record and tell the operator.
"""

from __future__ import annotations

import asyncio

from inspection import InspectionRecord
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink


class StationAgent:
    def __init__(self, station_id: str, signer: RecordSigner, outbox: OutboxStore, uplink: Uplink) -> None:
        if signer.station_id != station_id:
            raise ValueError(f"signer signs for station {signer.station_id!r}, the agent is {station_id!r}")
        self._station_id = station_id
        self._signer = signer
        self._outbox = outbox
        self._uplink = uplink

    @property
    def station_id(self) -> str:
        return self._station_id

    async def submit(self, record: InspectionRecord) -> str:
        """Seal, queue durably, notify the uplink; returns the record id."""
        envelope = self._signer.seal(record)
        record_id = str(record.record_id)
        # In a thread: the commit waits for fsync, which must not stall the lanes' event loop.
        await asyncio.to_thread(self._outbox.put, envelope, record_id)
        self._uplink.notify()
        return record_id

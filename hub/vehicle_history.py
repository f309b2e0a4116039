"""A vehicle's inspection history as this hub can answer it: one entry per inspection, oldest first.

Each entry says where the inspection was done (the station's province from the station
directory, else this hub's own), both verdicts, and whether the stored record verifies now
(``hub.record_integrity``: bytes, signature, key, columns, audit commitment); a record that does
not verify is listed with its problem, never silently dropped.

Sources: ``local_history`` reads the records this hub's own stations sent (origin ``"local"``).
Records forwarded from other provinces' hubs are a second source, built beside it and merged with
``merge_histories``, which orders any number of sources by inspection time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from heapq import merge

from hub.store import HubStore

LOCAL = "local"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    record_id: str
    station_id: str
    inspected_in: str  # GB/T 2260 code of the province where the station is
    finished_at: datetime
    received_at: datetime
    station_overall: str | None
    hub_overall: str | None
    origin: str  # "local": sent by a station of this hub
    verifies: bool
    problem: str | None  # what failed, when it does not verify


def _order(entry: HistoryEntry) -> tuple[datetime, datetime, str, str]:
    return (entry.finished_at, entry.received_at, entry.station_id, entry.record_id)


def local_history(store: HubStore, vin: str, hub_province: str) -> list[HistoryEntry]:
    """Every inspection of ``vin`` stored by this hub, oldest first, each checked again."""
    records = store.records.by_vin(vin.strip().upper())
    checks = store.check_records(records)
    provinces = {station.station_id: station.province for station in store.stations()}
    entries = [
        HistoryEntry(
            record_id=record.record_id,
            station_id=record.station_id,
            inspected_in=provinces.get(record.station_id) or hub_province,
            finished_at=record.finished_at,
            received_at=record.received_at,
            station_overall=record.station_overall,
            hub_overall=record.hub_overall,
            origin=LOCAL,
            verifies=check.ok,
            problem=None if check.ok else "; ".join(check.problems),
        )
        for record, check in zip(records, checks, strict=True)
    ]
    return sorted(entries, key=_order)


def merge_histories(*sources: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """One history from several, each already oldest first (as ``local_history`` returns it)."""
    return list(merge(*sources, key=_order))

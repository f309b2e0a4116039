"""A vehicle's inspection history as this hub can answer it: one entry per inspection, oldest first.

Each entry says where the inspection was done (the station's province from the station
directory, else this hub's own), both verdicts, and whether the stored record verifies now
(``hub.record_integrity``: bytes, signature, key, columns, audit commitment); a record that does
not verify is listed with its problem, never silently dropped.

Sources: ``local_history`` reads the records this hub's own stations sent (origin ``"local"``);
``forwarded_history`` the records other provinces' hubs forwarded (origin ``"forwarded"``,
``inspected_in`` the inspecting province). ``merge_histories`` orders any number of sources by
inspection time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from heapq import merge

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.envelope_check import EnvelopeLimits
from hub.errors import DirectoryInvalid, NoPeerDirectory, TrustListInvalid
from hub.forwarded_record import recheck_forwarded
from hub.published_directory import PeerStationDirectory
from hub.review_queue import ReviewQueue
from hub.store import HubStore
from hub.trust_list import TrustList

LOCAL = "local"
FORWARDED = "forwarded"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    record_id: str
    station_id: str
    inspected_in: str  # GB/T 2260 code of the province where the station is
    finished_at: datetime
    received_at: datetime
    station_overall: str | None
    hub_overall: str | None
    origin: str  # "local": sent by a station of this hub; "forwarded": by another province's hub
    verifies: bool
    problem: str | None  # what failed, when it does not verify
    revoked: str | None = None  # "by PERSON: REASON" when post-review revoked the result here


def _order(entry: HistoryEntry) -> tuple[datetime, datetime, str, str]:
    return (entry.finished_at, entry.received_at, entry.station_id, entry.record_id)


def local_history(store: HubStore, vin: str, hub_province: str) -> list[HistoryEntry]:
    """Every inspection of ``vin`` stored by this hub, oldest first, each checked again."""
    records = store.records.by_vin(vin.strip().upper())
    checks = store.check_records(records)
    provinces = {station.station_id: station.province for station in store.stations()}
    revoked = ReviewQueue(store.database).revocations_of([(r.station_id, r.record_id) for r in records])
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
            revoked=_revocation(revoked.get((record.station_id, record.record_id))),
        )
        for record, check in zip(records, checks, strict=True)
    ]
    return sorted(entries, key=_order)


def _revocation(revocation: tuple[str, str] | None) -> str | None:
    return None if revocation is None else f"by {revocation[0]}: {revocation[1]}"


def forwarded_history(
    store: HubStore, vin: str, national_key: Ed25519PublicKey | None, now: datetime | None = None
) -> list[HistoryEntry]:
    """Every inspection of ``vin`` other provinces forwarded here, oldest first, each checked again:
    the countersignature against the national trust list in force, the station's signature against
    the inspecting province's station directory held now (``hub.forwarded_record``)."""
    rows = store.foreign_records.by_vin(vin.strip().upper())
    if not rows:
        return []
    now = now or datetime.now(UTC)
    trust: TrustList | None = None
    trust_problem = "give the national trust-list key to check records forwarded from other provinces"
    if national_key is not None:
        try:
            trust = store.trust_lists.current(national_key, now)
        except TrustListInvalid as error:
            trust_problem = f"the installed national trust list does not verify: {error}"
        else:
            trust_problem = "no national trust list installed"
    directories: dict[str, PeerStationDirectory | None] = {}
    entries = []
    for row in rows:
        problem: str | None
        if trust is None:
            problem = trust_problem
        else:
            if row.from_province not in directories:
                directories[row.from_province] = _directory(store, trust, row.from_province, now)
            problem = recheck_forwarded(row, trust, directories[row.from_province], EnvelopeLimits())
        entries.append(
            HistoryEntry(
                record_id=row.record_id,
                station_id=row.station_id,
                inspected_in=row.from_province,
                finished_at=row.finished_at,
                received_at=row.received_at,
                station_overall=row.station_overall,
                hub_overall=row.hub_overall,
                origin=FORWARDED,
                verifies=problem is None,
                problem=problem,
                # The inspecting province's post-review revoked it (a ReviewOutcome forwarded here).
                revoked=row.revoked_reason if row.revoked_at is not None else None,
            )
        )
    return sorted(entries, key=_order)


def _directory(
    store: HubStore, trust: TrustList, province: str, now: datetime
) -> PeerStationDirectory | None:
    entry = trust.provinces.get(province)
    if entry is None:
        return None
    try:
        return store.peer_directories.get_any(province, entry.hub_public_key, now)
    except (NoPeerDirectory, DirectoryInvalid):
        return None


def merge_histories(*sources: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """One history from several, each already oldest first (as ``local_history`` returns it)."""
    return list(merge(*sources, key=_order))

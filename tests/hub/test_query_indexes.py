"""The queries a province runs at scale use their indexes on PostgreSQL (EXPLAIN of the very SQL the
store sends, captured from its engine, over tables with enough rows that a scan would be chosen
if the index did not serve)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from hub.models import ForwardOutboxItem, Record
from hub.store import HubStore

STATIONS = [f"50-{n:04d}" for n in range(1, 21)]
DAYS = 60
PER_STATION_DAY = 5  # 20 stations x 60 days x 5 = 6,000 records
FIRST_DAY = date(2026, 9, 1)


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    if not database_url.startswith("postgresql"):
        pytest.skip("EXPLAIN plans are checked on PostgreSQL, the production database")
    hub_store = HubStore(database_url)
    hub_store.migrate()
    try:
        _fill(hub_store)
        yield hub_store
    finally:
        hub_store.dispose()


def _vin(n: int) -> str:
    return f"LFV2A21K{n:09d}"


def _fill(store: HubStore) -> None:
    records, outbox = [], []
    n = 0
    for day in range(DAYS):
        for station in STATIONS:
            for k in range(PER_STATION_DAY):
                n += 1
                finished = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC)
                finished += timedelta(hours=8, minutes=10 * k)
                payload = f"record {n}".encode()
                records.append({
                    "station_id": station, "record_id": f"00000000-0000-0000-0000-{n:012d}", "key_id": f"{station}/k",
                    "payload": payload, "payload_sha256": hashlib.sha256(payload).hexdigest(), "signature": b"s",
                    "received_at": finished, "vin": _vin(n % 4000), "plate": "渝A00000", "finished_at": finished,
                    "station_overall": "pass", "hub_overall": "pass", "hub_verdict": None, "verdict_mismatch": False,
                })  # fmt: skip
                if n % 2 == 0:
                    outbox.append({
                        "to_province": "51" if n % 4 else "44", "station_id": station, "record_id": f"r{n}",
                        "vin": _vin(n % 4000), "body": b"b", "key_id": "hub", "signature": b"s",
                        "created_at": finished, "attempts": 1,
                        # all but the last 30 were delivered long ago (kept for the record's journey)
                        "delivered_at": finished if n < 5_940 else None,
                        "delivered_status": "accepted" if n < 5_940 else None,
                    })  # fmt: skip
    with store.database.engine.begin() as connection:
        connection.execute(insert(Record.__table__), records)
        connection.execute(insert(ForwardOutboxItem.__table__), outbox)
        connection.execute(text("ANALYZE records"))
        connection.execute(text("ANALYZE forward_outbox"))


@contextmanager
def _captured(store: HubStore, wanted: Callable[[str], bool]) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (with parameters) the store sends while inside the block."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and wanted(statement):
            seen.append((statement, parameters))

    engine = store.database.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _plan(store: HubStore, statement: str, parameters: Any) -> str:
    with store.database.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in rows)


def test_records_by_vin_use_the_vin_index(store: HubStore) -> None:
    with _captured(store, lambda sql: "records.vin" in sql) as seen:
        rows = store.records.by_vin(_vin(7))
    assert len(rows) == 2  # 6,000 records over 4,000 VINs: n = 7 and n = 4,007
    plan = _plan(store, *seen[0])
    assert "ix_records_vin_finished" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_records_of_a_station_on_a_day_are_a_range_scan(store: HubStore) -> None:
    with _captured(store, lambda sql: "records.finished_at >=" in sql) as seen:
        rows = store.records.of_station_on(STATIONS[3], FIRST_DAY + timedelta(days=10))
    assert [row.station_id for row in rows] == [STATIONS[3]] * PER_STATION_DAY
    assert rows == sorted(rows, key=lambda row: row.finished_at)
    plan = _plan(store, *seen[0])
    assert "ix_records_station_finished" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_the_outbox_pending_scan_reads_only_the_backlog(store: HubStore) -> None:
    now = datetime.now(UTC)
    with _captured(store, lambda sql: "forward_outbox" in sql) as seen:
        provinces = store.outbox.provinces_with_work(now)
        leased = store.outbox.lease("51", "replica-a", 64, timedelta(minutes=1), now)
    assert provinces == ["44", "51"]
    assert len(leased) == 15  # of the 30 pending items, those for Sichuan (every other one)
    assert len(seen) == 2
    for statement, parameters in seen:
        plan = _plan(store, statement, parameters)
        assert "ix_forward_outbox_sendable" in plan, plan
        assert "Seq Scan" not in plan, plan

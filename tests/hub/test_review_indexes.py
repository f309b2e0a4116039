"""The review queries that compare one record with all others, or pick from the whole queue, go
through an index: EXPLAIN on PostgreSQL (and EXPLAIN QUERY PLAN on SQLite) over tables with
thousands of rows shows no sequential scan of them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from hub.models import CurveFingerprint, PhotoHash, Record, ReviewItem, ScreenedRecord, StationDay
from hub.review_screening import (
    curve_owners_query,
    missed_days_query,
    pass_counts_query,
    photo_owners_query,
    previous_counter_query,
    visits_query,
)
from hub.store import HubStore

ROWS = 4000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BIG_TABLES = (
    "records",
    "screened_records",
    "photo_hashes",
    "curve_fingerprints",
    "station_days",
    "review_items",
)


@pytest.fixture
def filled(database_url: str) -> Iterator[HubStore]:
    store = HubStore(database_url)
    store.migrate()
    rng = random.Random(3)
    rows = range(1, ROWS + 1)
    with store.database.writer.begin() as connection:
        connection.execute(
            insert(Record),
            [
                {
                    "seq": i,
                    "station_id": f"50-{i % 40:04d}",
                    "record_id": f"r{i}",
                    "key_id": "k",
                    "payload": b"x",
                    "payload_sha256": "0" * 64,
                    "signature": b"s",
                    "received_at": T0 + timedelta(minutes=i),
                    "vin": f"V{i % 1500:016d}",
                    "plate": "p",
                    "finished_at": T0 + timedelta(minutes=i),
                    "station_overall": "pass",
                    "hub_overall": "pass",
                    "hub_verdict": None,
                    "verdict_mismatch": False,
                }
                for i in rows
            ],
        )
        connection.execute(
            insert(ScreenedRecord),
            [
                {
                    "seq": i,
                    "station_id": f"50-{i % 40:04d}",
                    "record_id": f"r{i}",
                    "lane": 1 + i % 4,
                    "vin": f"V{i % 1500:016d}",
                    "started_at": T0 + timedelta(minutes=i),
                    "finished_at": T0 + timedelta(minutes=i + 8),
                    "day": (T0 + timedelta(minutes=i)).date(),
                    "outcome": "pass",
                    "last_counter": i % 65536,
                }
                for i in rows
            ],
        )
        connection.execute(
            insert(PhotoHash),
            [{"sha256": f"{rng.getrandbits(256):064x}", "record_seq": i, "vin": "V"} for i in rows],
        )
        connection.execute(
            insert(CurveFingerprint),
            [
                {"fingerprint": f"{rng.getrandbits(128):032x}", "record_seq": i, "run": "a", "vin": "V"}
                for i in rows
            ],
        )
        connection.execute(
            insert(StationDay),
            [
                {
                    "station_id": f"50-{s:04d}",
                    "day": date(2025, 1, 1) + timedelta(days=d),
                    "inspected": 5,
                    "passed": 4,
                    "sampled": 1,
                }
                for s in range(20)
                for d in range(ROWS // 20)
            ],
        )
        connection.execute(
            insert(ReviewItem),
            [
                {
                    "record_seq": i,
                    "station_id": "50-0001",
                    "record_id": f"r{i}",
                    "vin": "V",
                    "province": "50" if i % 2 else "51",
                    "state": "approved" if i % 10 else "queued",
                    "reasons": [],
                    "sampled": False,
                    "queued_at": T0,
                    "deadline": T0 + timedelta(minutes=i),
                }
                for i in rows
            ],
        )
    if store.dialect == "postgresql":
        with store.database.writer.begin() as connection:
            for table in BIG_TABLES:
                connection.exec_driver_sql(f"ANALYZE {table}")
    yield store
    store.dispose()


ITEMS = ReviewItem.metadata.tables["review_items"]
RECORDS = Record.metadata.tables["records"]
NOW = T0 + timedelta(days=1)

QUERIES: dict[str, Any] = {
    "shared photo": photo_owners_query(["ab" * 32, "cd" * 32], "V1"),
    "copied curve": curve_owners_query(["ab" * 16], "V1"),
    "overlapping visit": visits_query("V0000000000000007", NOW, NOW + timedelta(minutes=8)),
    "previous counter": previous_counter_query("50-0003", 2, NOW),
    "station pass rate": pass_counts_query(date(2025, 3, 1), date(2025, 3, 30), "50-0003"),
    "province pass rate": pass_counts_query(date(2025, 3, 1), date(2025, 3, 30)),
    "unsampled days": missed_days_query(date(2025, 3, 1), date(2025, 3, 8)),
    "claim": select(ITEMS)
    .where(ITEMS.c.state == "queued", ITEMS.c.province == "50")
    .order_by(ITEMS.c.deadline, ITEMS.c.id)
    .limit(1)
    .with_for_update(skip_locked=True),
    "expired leases": select(ITEMS).where(
        ITEMS.c.state.in_(["claimed", "escalated_claimed"]), ITEMS.c.lease_until < NOW
    ),
    "new records": select(RECORDS.c.seq)
    .where(
        RECORDS.c.seq > ROWS - 100,
        ~select(ScreenedRecord.seq).where(ScreenedRecord.seq == RECORDS.c.seq).exists(),
    )
    .order_by(RECORDS.c.seq)
    .limit(200),
}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _plan(connection: Connection, query: Any) -> str:
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    prefix = "EXPLAIN " if connection.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    params: Any = compiled.params
    if compiled.positional:  # SQLite's qmark style
        params = tuple(_plain(params[name]) for name in compiled.positiontup or ())
    rows = connection.exec_driver_sql(prefix + str(compiled), params).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_every_cross_record_query_uses_an_index(filled: HubStore) -> None:
    assert _scan_problems(filled, QUERIES) == []


def test_the_check_notices_a_scan(filled: HubStore) -> None:
    unindexed = {"by outcome": select(ScreenedRecord.seq).where(ScreenedRecord.outcome == "fail")}
    assert len(_scan_problems(filled, unindexed)) >= 1


def _scan_problems(store: HubStore, queries: dict[str, Any]) -> list[str]:
    problems = []
    with store.database.engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            # Planner estimates over a few thousand rows may still prefer a scan; with scans made
            # dear, a plan without one proves an index serves the query.
            connection.exec_driver_sql("SET enable_seqscan = off")
        for name, query in queries.items():
            plan = _plan(connection, query)
            lines = plan.splitlines()
            for table in BIG_TABLES:
                if postgres:
                    scanned = f"Seq Scan on {table}" in plan
                else:
                    scanned = any(
                        line.strip().startswith(f"SCAN {table}") and "INDEX" not in line for line in lines
                    )
                if scanned:
                    problems.append(f"{name} scans {table}:\n{plan}")
            if "index" not in plan.lower() and "primary key" not in plan.lower():
                problems.append(f"{name} uses no index:\n{plan}")
    return problems

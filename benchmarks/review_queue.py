"""Review queue throughput: two hub replicas' reviewers claiming and deciding at once.

    .venv/bin/python benchmarks/review_queue.py [--items 2000] [--threads 2]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

1. ``--items`` records, each flagged (the hub's verdict differs from the station's), are stored
   and screened into the queue (one screener; its rate is printed too).
2. Two ``HubStore`` objects on the one database stand for two hub replicas; each runs
   ``--threads`` reviewer threads that claim (``SELECT .. FOR UPDATE SKIP LOCKED`` on PostgreSQL)
   and approve until the queue is empty. Every claim and every decision is its own transaction
   with its audit entry. Throughput = (claims + decisions) per second; no item may be handed out
   twice (checked).

Baseline, same run, same database, same threads on the same two replicas: the same rows set to
"claimed" and then "approved" by plain ``UPDATE .. WHERE id = ?`` statements, one transaction each,
each thread on its own share of the ids (no selection, no locking of the next item, no audit).
The ratio says what claiming safely and auditing cost over bare row writes.

PostgreSQL: the URL names a server; the benchmark creates a private database in it and drops it.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from hub.models import ReviewItem
from hub.records import RecordRow
from hub.review_queue import ReviewConfig, ReviewQueue
from hub.review_states import ReviewActor
from hub.store import HubStore
from inspection import (
    AxleBrake,
    BrakeKind,
    Fuel,
    InspectionRecord,
    Vehicle,
    VehicleClass,
    VehicleUse,
    vin_check_digit,
)
from inspection.measurements import BrakeTest
from protos.record_mapping import record_to_bytes

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _record(index: int) -> InspectionRecord:
    body = f"LSVAU2180N{index:07d}"
    vehicle = Vehicle(
        vin=body[:8] + vin_check_digit(body) + body[9:],
        plate=f"渝B{index % 100_000:05d}",
        registration_province="50",
        vehicle_class=VehicleClass.M1,
        fuel=Fuel.PETROL,
        seats=5,
        use=VehicleUse.NON_OPERATING,
        registration_date=date(2020, 5, 1),
        curb_mass_kg=1350,
        max_total_mass_kg=1800,
        axle_count=1,
        parking_brake_axles=(1,),
    )
    service = BrakeTest(BrakeKind.SERVICE, 2950.0, 2842.0, 40.0, 35.0, False, False, None)
    started = START + timedelta(seconds=30 * index)
    return InspectionRecord(
        record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"review-bench/{index}"),
        station_id=f"50-{index % 20:04d}",
        lane=1,
        vehicle=vehicle,
        started_at=started,
        finished_at=started + timedelta(minutes=8),
        axles=(AxleBrake(1, 420.0, 415.0, service),),
    )


def fill(store: HubStore, items: int) -> float:
    """Store and screen ``items`` flagged records; the seconds screening took."""
    rows = []
    for index in range(items):
        record = _record(index)
        payload = record_to_bytes(record)
        rows.append(
            RecordRow(
                station_id=record.station_id,
                record_id=str(record.record_id),
                key_id="bench/0",
                payload=payload,
                payload_sha256=hashlib.sha256(payload).hexdigest(),
                signature=b"\0" * 64,
                received_at=START,
                vin=record.vehicle.vin,
                plate=record.vehicle.plate,
                finished_at=record.finished_at,
                station_overall="pass",
                hub_overall="fail",
                hub_verdict=None,
                verdict_mismatch=True,
            )
        )
    for first in range(0, len(rows), 500):
        store.commit_batch(rows[first : first + 500])
    queue = ReviewQueue(store.database, ReviewConfig(sample_rate=0.0, settle=timedelta(0), batch=500))
    began = time.perf_counter()
    queued = queue.screen_all().queued
    seconds = time.perf_counter() - began
    if queued != items:
        raise SystemExit(f"screening queued {queued} of {items} flagged records")
    return seconds


def _run_threads(workers: list[Callable[[], None]]) -> float:
    barrier = threading.Barrier(len(workers) + 1)

    def wrap(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            work()

        return run

    threads = [threading.Thread(target=wrap(work)) for work in workers]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def queue_run(replicas: list[HubStore], threads: int) -> tuple[float, int]:
    queues = [ReviewQueue(r.database, ReviewConfig(sample_rate=0.0)) for r in replicas]
    handed: list[int] = []
    lock = threading.Lock()

    def reviewer(name: str, queue: ReviewQueue) -> Callable[[], None]:
        def work() -> None:
            mine = []
            while (item := queue.claim(name, ReviewActor.REVIEWER, "50")) is not None:
                queue.approve(item.id, name, ReviewActor.REVIEWER, "50", "bench")
                mine.append(item.id)
            with lock:
                handed.extend(mine)

        return work

    workers = [reviewer(f"r{i}-{t}", q) for i, q in enumerate(queues) for t in range(threads)]
    seconds = _run_threads(workers)
    if len(handed) != len(set(handed)):
        raise SystemExit("an item was handed to two reviewers")
    return seconds, len(handed)


def baseline_run(replicas: list[HubStore], threads: int, ids: list[int]) -> float:
    table = ReviewItem.metadata.tables["review_items"]
    shares = len(replicas) * threads

    def writer(store: HubStore, share: list[int]) -> Callable[[], None]:
        def work() -> None:
            for item_id in share:
                for state in ("claimed", "approved"):
                    with store.database.writer.begin() as connection:
                        connection.execute(update(table).where(table.c.id == item_id).values(state=state))

        return work

    workers = [writer(replicas[n % len(replicas)], ids[n::shares]) for n in range(shares)]
    return _run_threads(workers)


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    name = f"tongjian_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(url: str, items: int, threads: int) -> tuple[float, float, float]:
    replicas = [HubStore(url), HubStore(url)]
    try:
        replicas[0].migrate()
        screen_seconds = fill(replicas[0], items)
        seconds, decided = queue_run(replicas, threads)
        if decided != items:
            raise SystemExit(f"reviewers decided {decided} of {items} items")
        table = ReviewItem.metadata.tables["review_items"]
        with replicas[0].database.writer.begin() as connection:
            ids = [row[0] for row in connection.execute(table.select().with_only_columns(table.c.id))]
            connection.execute(update(table).values(state="queued", claimed_by=None))
        base_seconds = baseline_run(replicas, threads, ids)
    finally:
        for replica in replicas:
            replica.dispose()
    return 2 * items / seconds, 2 * items / base_seconds, items / screen_seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2, help="reviewer threads per replica")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (the run creates its own database)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        targets = [("sqlite", f"sqlite:///{Path(folder) / 'hub.sqlite3'}")]
        for name, url in targets:
            _report(name, *measure(url, args.items, args.threads), args)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            _report("postgresql", *measure(url, args.items, args.threads), args)


def _report(name: str, queue_ops: float, base_ops: float, screened: float, args: argparse.Namespace) -> None:
    print(f"{name}: screening (every rule, its indexed look-ups, queueing) {screened:,.0f} records/s")
    print(
        f"{name}: {args.items} items, 2 replicas x {args.threads} reviewer threads: "
        f"queue {queue_ops:,.0f} claims+decisions/s, baseline plain UPDATEs {base_ops:,.0f}/s, "
        f"ratio {queue_ops / base_ops:.2f}"
    )


if __name__ == "__main__":
    main()

"""Hub ingest throughput: N signed records over gRPC (several concurrent streams) against a baseline
of a raw SQLAlchemy Core executemany insert of the same rows into the same kind of database.

    .venv/bin/python benchmarks/hub_ingest.py                       # SQLite file in a temp dir
    .venv/bin/python benchmarks/hub_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The PostgreSQL database must exist and be empty (the hub migrates it; the baseline uses a second
table set in a scratch schema-free database named <db>_baseline, created and dropped here).
The gRPC figure includes everything the hub does per record: envelope parse, Ed25519 verify,
record parse and validation, verdict, group commit, Ack.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc.aio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.models import Base, Record
from hub.server import HubConfig, HubServer
from inspection import (
    AxleBrake,
    BrakeCurve,
    BrakeKind,
    Fuel,
    InspectionRecord,
    Vehicle,
    VehicleClass,
    VehicleUse,
    vin_check_digit,
)
from inspection.measurements import BrakeTest
from protos.envelope import key_id_of, raw_public_key, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import ingest_pb2

STATION = "50-0001"
_SUBMIT = "/tongjian.v1.StationIngest/Submit"


def make_record(index: int) -> InspectionRecord:
    body = f"LFV2A21K0NA{index % 1_000_000:06d}"
    vin = body[:8] + vin_check_digit(body) + body[9:]
    vehicle = Vehicle(
        vin=vin, plate=f"渝A{index % 100_000:05d}", registration_province="50", vehicle_class=VehicleClass.M1,
        fuel=Fuel.PETROL, seats=5, use=VehicleUse.NON_OPERATING, registration_date=date(2020, 5, 1),
        curb_mass_kg=1350, max_total_mass_kg=1800, axle_count=2,
    )  # fmt: skip
    curve = BrakeCurve(100, tuple(range(0, 3000, 60)), tuple(range(0, 2900, 58)))
    service = BrakeTest(BrakeKind.SERVICE, 2950.0, 2842.0, 40.0, 35.0, False, False, curve, index)
    started = datetime(2026, 11, 25, 8, 30, tzinfo=UTC) + timedelta(seconds=index)
    return InspectionRecord(
        record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{index}"), station_id=STATION, lane=1, vehicle=vehicle,
        started_at=started, finished_at=started + timedelta(minutes=8),
        axles=(AxleBrake(1, 420.0, 415.0, service), AxleBrake(2, 260.0, 255.0, service)),
    )  # fmt: skip


async def ingest(url: str, envelopes: list[bytes], public_raw: bytes, streams: int, window: int) -> float:
    async with HubServer(HubConfig(database_url=url)) as hub:
        hub.store.register_station(STATION)
        hub.store.add_station_key(STATION, public_raw)
        done = [0]
        with Progress(
            TextColumn("gRPC ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as progress:
            task = progress.add_task("ingest", total=len(envelopes))

            async def stream(part: list[bytes]) -> None:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{hub.port}") as channel:
                    call = channel.stream_stream(_SUBMIT, response_deserializer=ingest_pb2.Ack.FromString)()
                    credit = asyncio.Semaphore(window)  # like the uplink: a bounded number unacknowledged

                    async def send() -> None:
                        for raw in part:
                            await credit.acquire()
                            await call.write(raw)
                        await call.done_writing()

                    sender = asyncio.create_task(send())
                    async for ack in call:
                        if ack.status != ingest_pb2.ACK_STATUS_ACCEPTED:
                            raise RuntimeError(f"record {ack.record_id}: {ack.status} {ack.reason}")
                        credit.release()
                        done[0] += 1
                        progress.update(task, completed=done[0])
                    await sender

            started = time.perf_counter()
            await asyncio.gather(*(stream(envelopes[i::streams]) for i in range(streams)))
            elapsed = time.perf_counter() - started
        assert hub.store.count_records() == len(envelopes)
    return elapsed


def baseline(url: str, rows: list[dict[str, object]]) -> float:
    engine = create_engine(url)
    try:
        Base.metadata.create_all(engine)
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(insert(Record.__table__), rows)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--records", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--window", type=int, default=64, help="unacknowledged records per stream")
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty database (default: SQLite)")
    args = parser.parse_args()

    private = Ed25519PrivateKey.generate()
    key_id = key_id_of(STATION, private.public_key())
    with Progress(TextColumn("signing"), BarColumn(), MofNCompleteColumn()) as progress:
        task = progress.add_task("sign", total=args.records)
        envelopes, rows = [], []
        now = datetime.now(UTC)
        for i in range(args.records):
            record = make_record(i)
            envelope = seal(record_to_bytes(record), key_id, private)
            envelopes.append(envelope.SerializeToString())
            rows.append({
                "station_id": STATION, "record_id": str(record.record_id), "key_id": key_id,
                "payload": envelope.record, "payload_sha256": hashlib.sha256(envelope.record).hexdigest(),
                "signature": envelope.signature, "received_at": now, "vin": record.vehicle.vin,
                "plate": record.vehicle.plate, "finished_at": record.finished_at, "station_overall": None,
                "hub_overall": None, "hub_verdict": None, "verdict_mismatch": False,
            })  # fmt: skip
            if i % 500 == 0:
                progress.update(task, completed=i)
        progress.update(task, completed=args.records)

    with tempfile.TemporaryDirectory() as scratch:
        if args.database_url:
            hub_url = args.database_url
            admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            base_name = f"{make_url(hub_url).database}_baseline"
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{base_name}"'))
                connection.execute(text(f'CREATE DATABASE "{base_name}"'))
            baseline_url = make_url(hub_url).set(database=base_name).render_as_string(hide_password=False)
        else:
            hub_url = f"sqlite:///{scratch}/hub.sqlite3"
            baseline_url = f"sqlite:///{scratch}/baseline.sqlite3"
        hub_s = asyncio.run(
            ingest(hub_url, envelopes, raw_public_key(private.public_key()), args.streams, args.window)
        )
        base_s = baseline(baseline_url, rows)
        if args.database_url:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{base_name}" WITH (FORCE)'))
            admin.dispose()

    n = args.records
    print(
        f"database: {make_url(hub_url).get_backend_name()}, {n} records, {args.streams} streams x window {args.window}"
    )
    print(
        f"hub over gRPC (verify + judge + group commit + Ack): {n / hub_s:10.0f} records/s  ({hub_s:.2f} s)"
    )
    print(
        f"baseline Core executemany, one transaction:          {n / base_s:10.0f} records/s  ({base_s:.2f} s)"
    )
    print(f"hub / baseline: {base_s / hub_s:.2f}")


if __name__ == "__main__":
    main()

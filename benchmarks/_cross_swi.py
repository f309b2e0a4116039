"""Cross-province commit latency: station -> inspecting hub -> registration hub, at a steady load.

Two ``tongjian hub serve`` processes on loopback (Sichuan 51 inspects, Chongqing 50 registers),
each on its own database, federated by a national trust list made here. One station stream sends
records at a steady rate. Two runs in the same invocation:

* baseline: records of Sichuan cars - the single-hub path; latency = the Sichuan hub's Ack - send;
* cross-province: records of Chongqing cars; latency = committed at the Chongqing hub (its
  ``arrived_at``, stamped as it checks the batch, just before the commit) - send. The Sichuan
  hub's Ack latency for the same records is reported beside it.

    .venv/bin/python benchmarks/cross_province_latency.py                  # SQLite files
    .venv/bin/python benchmarks/cross_province_latency.py --rate 200 --seconds 10
    .venv/bin/python benchmarks/cross_province_latency.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test  # two scratch databases

Goal (issue 14): cross-province p99 < 200 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc.aio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.hub_ingest import make_record  # noqa: E402
from hub.models import ForeignRecord  # noqa: E402
from hub.store import HubStore  # noqa: E402
from hub.trust_list import NATIONAL_SIGNER, ProvinceHubEntry, build_trust_list  # noqa: E402
from inspection import InspectionRecord  # noqa: E402
from inspection.vehicle_register_csv import RegisterRow  # noqa: E402
from pki.authority import init_ca  # noqa: E402
from protos.envelope import key_id_of, seal  # noqa: E402
from protos.record_mapping import record_to_bytes  # noqa: E402
from protos.signed_document import sign_document  # noqa: E402
from protos.tongjian.v1 import ingest_pb2  # noqa: E402

STATION = "51-0001"
_SUBMIT = "/tongjian.v1.StationIngest/Submit"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pem(key: Ed25519PrivateKey, path: Path, public: bool) -> Path:
    if public:
        data = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        data = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    path.write_bytes(data)
    return path


@contextmanager
def scratch_databases(base: str | None, workdir: Path) -> Iterator[dict[str, str]]:
    if base is None:
        yield {p: f"sqlite:///{workdir / f'hub{p}.sqlite3'}" for p in ("50", "51")}
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    names = {p: f"tongjian_bench_{p}_{uuid.uuid4().hex[:8]}" for p in ("50", "51")}
    with admin.connect() as connection:
        for name in names.values():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {
            p: make_url(base).set(database=n).render_as_string(hide_password=False) for p, n in names.items()
        }
    finally:
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def hub_process(
    province: str, url: str, port: int, key: Path, national: Path, log: Path
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable, "-c", "import sys; sys.setswitchinterval(float(__import__('os').environ.get('SWI', '0.005'))); sys.argv[0] = 'tongjian'; import runpy; runpy.run_module('tongjian', run_name='__main__')", "hub", "serve", "--insecure", "--listen", f"127.0.0.1:{port}",
            "--database-url", url, "--province", province, "--hub-key", str(key), "--national-key", str(national),
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("ab"), env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not re.search(rb"port \d+", line):
        raise SystemExit(f"hub {province} did not start: {line!r}\n{log.read_text()}")
    return process


def registered_in(record: InspectionRecord, province: str, prefix: str, index: int) -> InspectionRecord:
    vehicle = dataclasses.replace(
        record.vehicle, registration_province=province, plate=f"{prefix}A{index % 100_000:05d}"
    )
    return dataclasses.replace(record, station_id=STATION, vehicle=vehicle)


async def steady_stream(
    port: int, envelopes: list[tuple[str, bytes]], rate: float, label: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Send at ``rate``/s on one stream; returns (send wall time, Ack wall time) by record id."""
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    order = [record_id for record_id, _ in envelopes]

    async def requests() -> object:
        start = time.perf_counter()
        for index, (record_id, raw) in enumerate(envelopes):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[record_id] = time.time()
            yield raw

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        task = progress.add_task(label, total=len(envelopes))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.stream_stream(_SUBMIT, response_deserializer=ingest_pb2.Ack.FromString)(requests())
            index = 0
            async for ack in call:
                if ack.status != ingest_pb2.ACK_STATUS_ACCEPTED:
                    raise SystemExit(f"record refused: {ack.reason}")
                acked[order[index]] = time.time()
                index += 1
                progress.advance(task)
    return sent, acked


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, latencies_ms: list[float]) -> str:
    return (
        f"{name:<44} n={len(latencies_ms):5d}  p50 {percentile(latencies_ms, 0.5):7.1f} ms  "
        f"p99 {percentile(latencies_ms, 0.99):7.1f} ms  max {max(latencies_ms):7.1f} ms  "
        f"mean {statistics.fmean(latencies_ms):6.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50.0, help="records per second (default 50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per run (default 20)")
    parser.add_argument("--database-url", help="PostgreSQL server URL (two scratch databases are made)")
    args = parser.parse_args()
    count = max(1, int(args.rate * args.seconds))
    with (
        tempfile.TemporaryDirectory(prefix="tongjian-bench-") as tmp,
        scratch_databases(args.database_url, Path(tmp)) as urls,
    ):
        workdir = Path(tmp)
        national = Ed25519PrivateKey.generate()
        keys = {p: Ed25519PrivateKey.generate() for p in ("50", "51")}
        ports = {p: _free_port() for p in ("50", "51")}
        station_key = Ed25519PrivateKey.generate()
        key_id = key_id_of(STATION, station_key.public_key())
        ca_pem = init_ca(workdir / "ca").cert_path.read_bytes()
        now = datetime.now(UTC)
        entries = [
            ProvinceHubEntry.create(
                p, p, f"127.0.0.1:{ports[p]}", f"hub-{p}.peer", ca_pem, keys[p].public_key()
            )
            for p in ("50", "51")
        ]
        trust = sign_document(
            build_trust_list(1, entries, now - timedelta(minutes=1), now + timedelta(days=1)),
            NATIONAL_SIGNER,
            national,
        )
        base = [make_record(index) for index in range(count)]
        local = [registered_in(r, "51", "川", i) for i, r in enumerate(base)]
        remote = [
            dataclasses.replace(
                registered_in(r, "50", "渝", i), record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"x/{i}")
            )
            for i, r in enumerate(base)
        ]
        for province, url in urls.items():
            store = HubStore(url)
            try:
                store.migrate()
                store.trust_lists.install(trust, national.public_key(), now)
                if province == "51":
                    store.register_station(STATION, province="51")
                    store.add_station_key(
                        STATION, _pem(station_key, workdir / "station.pub.pem", public=True).read_bytes()
                    )
                else:
                    store.vehicles.import_rows(
                        (RegisterRow(i, r.vehicle, f"owner-{i}") for i, r in enumerate(remote, 2)), "50"
                    )
            finally:
                store.dispose()
        national_pem = _pem(national, workdir / "national.pub.pem", public=True)
        processes = [
            hub_process(p, urls[p], ports[p], _pem(keys[p], workdir / f"hub{p}.key.pem", False), national_pem,
                        workdir / f"hub{p}.log")
            for p in ("50", "51")
        ]  # fmt: skip
        try:

            def envelopes(records: list[InspectionRecord]) -> list[tuple[str, bytes]]:
                return [
                    (str(r.record_id), seal(record_to_bytes(r), key_id, station_key).SerializeToString())
                    for r in records
                ]

            sent_local, acked_local = await steady_stream(
                ports["51"], envelopes(local), args.rate, "single hub"
            )
            sent, acked = await steady_stream(ports["51"], envelopes(remote), args.rate, "cross-province")
            registration = create_engine(urls["50"])
            deadline = time.monotonic() + 60
            arrived: dict[str, float] = {}
            while len(arrived) < count and time.monotonic() < deadline:
                with registration.connect() as connection:
                    arrived = {
                        record_id: at.replace(tzinfo=UTC).timestamp() if at.tzinfo is None else at.timestamp()
                        for record_id, at in connection.execute(
                            select(ForeignRecord.record_id, ForeignRecord.arrived_at)
                        )
                    }
                await asyncio.sleep(0.2)
            registration.dispose()
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    if len(arrived) < count:
        raise SystemExit(f"only {len(arrived)} of {count} records arrived at the registration hub")
    single = [(acked_local[i] - sent_local[i]) * 1000 for i in sent_local]
    inspecting_ack = [(acked[i] - sent[i]) * 1000 for i in sent]
    cross = [(arrived[i] - sent[i]) * 1000 for i in sent]
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{count} records per run at {args.rate:g}/s on {kind}, hubs in their own processes, loopback")
    print(summary("baseline: single-hub ingest (Ack)", single))
    print(summary("cross-province: inspecting hub Ack", inspecting_ack))
    print(summary("cross-province: committed at registration hub", cross))
    p99_ratio = percentile(cross, 0.99) / percentile(single, 0.99)
    p50_ratio = percentile(cross, 0.5) / percentile(single, 0.5)
    print(f"ratio cross-province / single hub: p50 {p50_ratio:.2f}x, p99 {p99_ratio:.2f}x")
    goal = percentile(cross, 0.99) < 200.0
    print(f"goal p99 < 200 ms: {'met' if goal else 'MISSED'} ({percentile(cross, 0.99):.1f} ms)")


if __name__ == "__main__":
    asyncio.run(main())

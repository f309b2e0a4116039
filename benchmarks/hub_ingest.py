"""Hub ingest throughput and Ack latency, against a bare gRPC echo of the same envelopes.

Every server runs in its own process (this script with ``--serve``), the client is the same for
all of them: ``--streams`` concurrent streams, each with at most ``--window`` records
unacknowledged (like the station uplink). Records are full size (``simulators.realistic_record``:
four axles of 3 s curves at 100 Hz, lamps, an emission run, 20 visual checks, 3 photo refs).

1. baseline: a bare gRPC server that answers each envelope with a fixed Ack - the transport's limit;
2. the hub at full load with parse/verify/judge ``inline`` (on the event loop: the old way),
   in ``threads`` and in ``processes`` (``hub.record_checker``);
3. the hub's p99 Ack latency at half its peak records/s (open loop, paced sends);
4. with ``--replicas 2`` also two hub processes on one database, streams spread round-robin.

Each run also reads the CPU time every server process (with its check workers) and this client
used, per record: on a machine whose cores the client and the server share, no server can go
faster than the cores divided by that cost, so the CPU lines say what bounds the ratio.

    .venv/bin/python benchmarks/hub_ingest.py                       # SQLite files in a temp dir
    .venv/bin/python benchmarks/hub_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL a scratch database is created per hub run and dropped after. Goals (issue 19):
hub >= 50 % of the echo's records/s; p99 Ack latency < 50 ms at half the hub's peak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
import grpc.aio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspection import InspectionRecord  # noqa: E402
from protos.envelope import key_id_of, raw_public_key, seal  # noqa: E402
from protos.record_mapping import record_to_bytes  # noqa: E402
from protos.tongjian.v1 import ingest_pb2  # noqa: E402
from simulators.realistic_record import realistic_record  # noqa: E402

STATION = "50-0001"
_SUBMIT = "/tongjian.v1.StationIngest/Submit"


def make_record(index: int) -> InspectionRecord:
    """Record ``index`` of the benchmarks' station: full size (see ``simulators.realistic_record``)."""
    return realistic_record(index, STATION)


def make_envelopes(count: int, private: Ed25519PrivateKey, first: int = 0) -> list[bytes]:
    key_id = key_id_of(STATION, private.public_key())
    return [
        seal(record_to_bytes(make_record(i)), key_id, private).SerializeToString()
        for i in range(first, first + count)
    ]


# ---------------------------------------------------------------- servers, each in its own process


async def _serve_echo() -> None:
    ack = ingest_pb2.Ack(
        record_id=str(uuid.uuid4()), status=ingest_pb2.ACK_STATUS_ACCEPTED
    ).SerializeToString()

    async def submit(requests: object, context: object) -> object:
        async for _raw in requests:  # type: ignore[attr-defined]
            yield ack

    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", 4 * 1024 * 1024)],
    )
    handler = grpc.method_handlers_generic_handler(
        "tongjian.v1.StationIngest", {"Submit": grpc.stream_stream_rpc_method_handler(submit)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"port {port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


async def _serve_hub(url: str, mode: str, workers: int | None) -> None:
    from hub.record_checker import CheckMode
    from hub.server import HubConfig, HubServer, freeze_startup_heap

    config = HubConfig(
        database_url=url, check_mode=CheckMode(mode), check_workers=workers, migrate_schema=False
    )
    async with HubServer(config) as hub:
        freeze_startup_heap()  # as `tongjian hub serve` does
        print(f"port {hub.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@dataclass(frozen=True)
class Server:
    port: int
    pid: int  # its check workers are its children: CPU is counted over the tree


def tree_cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants, and by ``pid``
    alone, from /proc."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total, times.get(pid, 0.0)


_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def server_process(*args: str) -> Iterator[Server]:
    """This script with ``--serve ...`` in a child process; stdin EOF stops it."""
    command = [sys.executable, __file__, "--serve", *args]
    profile_dir = os.environ.get("TONGJIAN_BENCH_PROFILE")  # py-spy stacks of each server, for profiling
    if profile_dir and args[0] == "hub":
        out = Path(profile_dir) / f"hub-{args[2]}-{uuid.uuid4().hex[:6]}.txt"
        command = [
            "py-spy",
            "record",
            "--subprocesses",
            "--format",
            "raw",
            "-r",
            "200",
            "-o",
            str(out),
            "--",
            *command,
        ]
    process = subprocess.Popen(
        command,
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    try:
        line = process.stdout.readline().decode()
        while line.startswith("py-spy") or not line.strip():
            line = process.stdout.readline().decode()
        if not line.startswith("port "):
            raise SystemExit(f"server {args[0]} did not start: {line!r}")
        yield Server(int(line.split()[1]), process.pid)
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------- the one client


@dataclass(frozen=True)
class Run:
    name: str
    records: int
    seconds: float
    p50_ms: float
    p99_ms: float
    # CPU per record: the servers (each process with its check workers) and this client
    server_cpu_ms: float
    client_cpu_ms: float
    # of server_cpu_ms, the servers' own processes (the hub's event loop, gRPC and writer threads)
    # without their check workers: on more cores the part one process cannot spread
    main_cpu_ms: float

    @property
    def per_s(self) -> float:
        return self.records / self.seconds


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(
    name: str,
    servers: Sequence[Server],
    envelopes: Sequence[bytes],
    streams: int,
    window: int,
    rate: float | None = None,
) -> Run:
    """Send ``envelopes`` over ``streams`` streams (spread round-robin over ``ports``), at most
    ``window`` unacknowledged per stream; at ``rate`` records/s in total if given (open loop),
    else as fast as Acks come back. Latency: Ack time - write time, per record."""
    latencies: list[float] = []

    async def stream(index: int, part: Sequence[bytes]) -> None:
        port = servers[index % len(servers)].port
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 4 * 1024 * 1024)]
        ) as channel:
            call = channel.stream_stream(_SUBMIT, response_deserializer=ingest_pb2.Ack.FromString)()
            credit = asyncio.Semaphore(window)
            written: deque[float] = deque()
            start = time.perf_counter()

            async def send() -> None:
                for n, raw in enumerate(part):
                    if rate is not None:
                        delay = start + n * streams / rate + index / rate - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    await credit.acquire()
                    written.append(time.perf_counter())
                    await call.write(raw)
                await call.done_writing()

            sender = asyncio.create_task(send())
            async for ack in call:
                if ack.status != ingest_pb2.ACK_STATUS_ACCEPTED:
                    raise SystemExit(f"{name}: record {ack.record_id} refused: {ack.status} {ack.reason}")
                latencies.append(time.perf_counter() - written.popleft())
                credit.release()
            await sender

    server_before = [tree_cpu_s(server.pid) for server in servers]
    client_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(stream(i, envelopes[i::streams]) for i in range(streams)))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    server_after = [tree_cpu_s(server.pid) for server in servers]
    server_cpu = sum(after[0] - before[0] for before, after in zip(server_before, server_after, strict=True))
    main_cpu = sum(after[1] - before[1] for before, after in zip(server_before, server_after, strict=True))
    if len(latencies) != len(envelopes):
        raise SystemExit(f"{name}: {len(latencies)} Acks for {len(envelopes)} records")
    ms = [x * 1000 for x in latencies]
    per_record_ms = 1000 / len(envelopes)
    return Run(
        name,
        len(envelopes),
        elapsed,
        percentile(ms, 0.5),
        percentile(ms, 0.99),
        server_cpu * per_record_ms,
        client_cpu * per_record_ms,
        main_cpu * per_record_ms,
    )


@contextmanager
def scratch_database(base: str | None, workdir: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database on ``base``'s server."""
    if base is None:
        yield f"sqlite:///{workdir / f'hub-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"tongjian_ingest_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _prepare(url: str, public_raw: bytes) -> None:
    """Migrate and enrol the station before any hub starts (replicas share the database)."""
    from hub.store import HubStore

    store = HubStore(url)
    try:
        store.migrate()
        store.register_station(STATION)
        store.add_station_key(STATION, public_raw)
    finally:
        store.dispose()


@dataclass(frozen=True)
class IngestFigures:
    database: str
    envelope_bytes: int
    echo: Run
    hubs: list[Run]  # one per check mode, full load
    best_mode: str
    half_load: Run  # the best mode at half its peak, paced
    paced_echo: Run  # the echo at that pace
    replicas: list[Run]  # 1 and 2 hub processes on one database (PostgreSQL only)

    @property
    def ratio(self) -> float:
        best = max(self.hubs, key=lambda run: run.per_s)
        return best.per_s / self.echo.per_s

    def goals(self) -> dict[str, bool]:
        return {
            "hub >= 50 % of echo records/s": self.ratio >= 0.5,
            "p99 Ack < 50 ms at half peak": self.half_load.p99_ms < 50,
        }

    def lines(self) -> list[str]:
        out = [f"database {self.database}, envelopes of {self.envelope_bytes:,} bytes"]
        for run in (self.echo, *self.hubs, self.paced_echo, self.half_load, *self.replicas):
            share = run.per_s / self.echo.per_s
            out.append(
                f"{run.name:<40} {run.per_s:8.0f} records/s ({share:4.0%} of echo)  "
                f"Ack p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms  "
                f"CPU/record server {run.server_cpu_ms:5.2f} ms (its main process {run.main_cpu_ms:5.2f}) "
                f"client {run.client_cpu_ms:5.2f} ms"
            )
        return out

    def cpu_bound(self) -> list[str]:
        """Why the ratio is what it is: on this machine's cores, shared by the client and the
        server, no server can take more records/s than the cores divided by the CPU a record costs
        both of them. The echo's bound is the transport's; the hub's, its own work."""
        cores = os.cpu_count() or 1
        best = max(self.hubs, key=lambda run: run.per_s)
        echo_cost = self.echo.server_cpu_ms + self.echo.client_cpu_ms
        hub_cost = best.server_cpu_ms + best.client_cpu_ms
        half_echo = 0.5 * self.echo.per_s
        return [
            f"CPU per record: hub {best.server_cpu_ms:.2f} ms = {best.server_cpu_ms / self.echo.server_cpu_ms:.0f}x "
            f"the echo server's {self.echo.server_cpu_ms:.3f} ms (client {self.echo.client_cpu_ms:.3f} ms)",
            f"bound on {cores} cores: echo {cores * 1000 / echo_cost:,.0f} records/s, "
            f"hub {cores * 1000 / hub_cost:,.0f} records/s",
            f"for 50 % of the echo ({half_echo:,.0f} records/s) the hub could spend at most "
            f"{cores * 1000 / half_echo - best.client_cpu_ms:.2f} ms of CPU a record",
        ]


async def measure(
    database_url: str | None,
    records: int,
    streams: int,
    window: int,
    modes: Sequence[str],
    replicas: bool,
    workers: int | None = None,
) -> IngestFigures:
    private = Ed25519PrivateKey.generate()
    public_raw = raw_public_key(private.public_key())
    envelopes = make_envelopes(records, private)
    # Every server gets the same warm-up before it is measured; the hubs' are other records (the
    # measured ones must be new to them), sent to each hub before its runs.
    warm_up = make_envelopes(streams * 4, private, first=records)
    database = "postgresql" if database_url else "sqlite"
    worker_args = [str(workers)] if workers else []
    with tempfile.TemporaryDirectory(prefix="tongjian-ingest-") as tmp:
        workdir = Path(tmp)
        with server_process("echo") as server:
            await drive("warm-up", [server], warm_up, streams, window)
            echo = await drive("baseline: bare gRPC echo", [server], envelopes, streams, window)
        hubs = []
        for mode in modes:
            with scratch_database(database_url, workdir) as url:
                _prepare(url, public_raw)
                with server_process("hub", url, mode, *worker_args) as server:
                    await drive("warm-up", [server], warm_up, streams, window)
                    hubs.append(await drive(f"hub, check {mode}", [server], envelopes, streams, window))
        best = max(hubs, key=lambda run: run.per_s)
        best_mode = best.name.rsplit(" ", 1)[1]
        # The echo at the same pace: what the client, the transport and the machine's load add to
        # the hub's Ack latency at half peak (on a shared machine, most of a bad p99 can be theirs).
        with server_process("echo") as server:
            await drive("warm-up", [server], warm_up, streams, window)
            paced_echo = await drive(
                "baseline: echo at the same pace", [server], envelopes, streams, window, best.per_s / 2
            )
        with scratch_database(database_url, workdir) as url:
            _prepare(url, public_raw)
            with server_process("hub", url, best_mode, *worker_args) as server:
                await drive("warm-up", [server], warm_up, streams, window)
                half = await drive(
                    f"hub, check {best_mode}, at half peak",
                    [server],
                    envelopes,
                    streams,
                    window,
                    best.per_s / 2,
                )
        replica_runs: list[Run] = []
        if replicas and database_url:
            for count in (1, 2):
                with scratch_database(database_url, workdir) as url:
                    _prepare(url, public_raw)
                    with contextlib.ExitStack() as stack:
                        servers = [
                            stack.enter_context(server_process("hub", url, best_mode, *worker_args))
                            for _ in range(count)
                        ]
                        await drive("warm-up", servers, warm_up, streams, window)
                        replica_runs.append(
                            await drive(
                                f"{count} replica(s), one PostgreSQL", servers, envelopes, streams, window
                            )
                        )
    return IngestFigures(
        database,
        round(statistics.fmean(map(len, envelopes))),
        echo,
        hubs,
        best_mode,
        half,
        paced_echo,
        replica_runs,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--records", type=int, default=3000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--window", type=int, default=64, help="unacknowledged records per stream")
    parser.add_argument("--modes", default="inline,threads,processes", help="check modes to measure")
    parser.add_argument("--workers", type=int, help="check workers per hub (default: CPUs, at least 2)")
    parser.add_argument(
        "--replicas", action="store_true", help="also 1 and 2 hub processes (PostgreSQL only)"
    )
    parser.add_argument("--database-url", help="PostgreSQL server URL; scratch databases are made on it")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.serve[0] == "echo":
            asyncio.run(_serve_echo())
        else:
            _, url, mode, *workers = args.serve
            asyncio.run(_serve_hub(url, mode, int(workers[0]) if workers else None))
        return
    figures = asyncio.run(
        measure(
            args.database_url, args.records, args.streams, args.window, args.modes.split(","),
            args.replicas, args.workers,
        )
    )  # fmt: skip
    for line in figures.lines():
        print(line)
    for line in figures.cpu_bound():
        print(line)
    print(f"hub (best, {figures.best_mode}) / echo: {figures.ratio:.2f}")
    said = {
        "hub >= 50 % of echo records/s": f"hub/echo {figures.ratio:.2f}",
        "p99 Ack < 50 ms at half peak": (
            f"hub {figures.half_load.p99_ms:.1f} ms, the echo at that pace {figures.paced_echo.p99_ms:.1f} ms"
        ),
    }
    for goal, met in figures.goals().items():
        print(f"goal {goal}: {'met' if met else 'MISSED'} ({said[goal]})")
    if args.json:
        args.json.write_text(
            json.dumps({**asdict(figures), "ratio": figures.ratio, "goals": figures.goals()})
        )


if __name__ == "__main__":
    main()

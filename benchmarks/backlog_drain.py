"""Backlog drain: how fast a station empties its outbox once the hub comes back.

    .venv/bin/python benchmarks/backlog_drain.py [--records 10000] [--window 64]

1. A hub runs once so the station and its key get registered, then stops.
2. With the hub down, ``--records`` full-size records (``simulators.realistic_record``) are
   sealed and put into the outbox one by one, each committed and fsynced as in the station.
   The uplink is already running and failing to connect.
3. The hub starts again (its own process, as in production); the clock runs from the moment it
   is serving until ``Uplink.drain`` sees an empty outbox.

Baseline, same run, same hub process arrangement, fresh hub database: the same envelopes written
from memory on one bare ``Submit`` stream with no window and no outbox, timed until the last Ack.
The ratio says what the outbox and the window cost over what the hub can take. Goal: the drain
of 10,000 records under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.synchronize
import socket
import sys
import tempfile
import time
from pathlib import Path

import grpc.aio

from hub.server import HubConfig, HubServer
from inspection import InspectionRecord
from protos.tongjian.v1 import ingest_pb2
from simulators.realistic_record import realistic_record
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import SUBMIT_METHOD, Uplink
from tongjian.commands.keys import write_key_pair

STATION_ID = "50-0001"


def make_records(count: int) -> list[InspectionRecord]:
    """Full-size records (``simulators.realistic_record``), as every benchmark uses."""
    return [realistic_record(index, STATION_ID) for index in range(count)]


# ---------------------------------------------------------------- the hub, in its own process


def _hub_main(
    database_url: str,
    listen: str,
    public_pem: bytes | None,
    ready: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    result: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    async def serve() -> None:
        async with HubServer(HubConfig(database_url=database_url, listen=listen)) as hub:
            if public_pem is not None:
                hub.store.register_station(STATION_ID)
                hub.store.add_station_key(STATION_ID, public_pem)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            result.put(hub.store.count_records())

    asyncio.run(serve())


class HubProcess:
    def __init__(self, database_url: str, port: int, public_pem: bytes | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop = context.Event(), context.Event()
        self._result: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        self._process = context.Process(
            target=_hub_main,
            args=(database_url, f"127.0.0.1:{port}", public_pem, self._ready, self._stop, self._result),
        )

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(60):
            self._process.kill()
            raise RuntimeError("hub did not start within 60 s")

    def stop(self) -> int:
        """Stop the hub; returns how many records it holds."""
        self._stop.set()
        count = self._result.get(timeout=60)
        self._process.join(30)
        return int(count)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- the two measurements


async def drain_backlog(
    work: Path, signer: RecordSigner, public_pem: bytes, records: list[InspectionRecord], window: int
) -> tuple[float, int, Uplink]:
    database_url = f"sqlite:///{work / 'hub.sqlite3'}"
    port = free_port()
    enrolment = HubProcess(database_url, port, public_pem)
    enrolment.start()
    enrolment.stop()

    outbox = OutboxStore(work / "outbox.sqlite3", max_depth=len(records) + 1)
    uplink = Uplink(outbox, f"127.0.0.1:{port}", window=window, backoff_min_s=0.05, backoff_max_s=0.5)
    await uplink.start()
    began = time.perf_counter()
    for record in records:
        outbox.put(signer.seal(record), str(record.record_id))
    queued_s = time.perf_counter() - began
    print(
        f"queued {len(records)} records in {queued_s:.1f} s ({len(records) / queued_s:,.0f} puts/s, fsync each)"
    )

    hub = HubProcess(database_url, port)
    await asyncio.to_thread(hub.start)
    began = time.perf_counter()
    drained = await uplink.drain(timeout=600)
    elapsed = time.perf_counter() - began
    await uplink.stop()
    stored = await asyncio.to_thread(hub.stop)
    outbox.close()
    if not drained:
        raise RuntimeError("the outbox did not drain within 600 s")
    return elapsed, stored, uplink


async def bare_stream(work: Path, public_pem: bytes, envelopes: list[bytes]) -> tuple[float, int]:
    port = free_port()
    hub = HubProcess(f"sqlite:///{work / 'baseline.sqlite3'}", port, public_pem)
    await asyncio.to_thread(hub.start)
    accepted = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await channel.channel_ready()
        call = channel.stream_stream(SUBMIT_METHOD, response_deserializer=ingest_pb2.Ack.FromString)()
        began = time.perf_counter()

        async def write_all() -> None:
            for envelope in envelopes:
                await call.write(envelope)
            await call.done_writing()

        writer = asyncio.create_task(write_all())
        while (ack := await call.read()) is not grpc.aio.EOF:
            accepted += ack.status == ingest_pb2.ACK_STATUS_ACCEPTED
        elapsed = time.perf_counter() - began
        await writer
    stored = await asyncio.to_thread(hub.stop)
    if stored != len(envelopes):
        raise RuntimeError(f"baseline hub stored {stored} of {len(envelopes)}")
    return elapsed, accepted


async def main(count: int, window: int) -> int:
    with tempfile.TemporaryDirectory(prefix="tongjian-bench-") as directory:
        work = Path(directory)
        private_path, public_path, _ = write_key_pair(STATION_ID, work / "keys")
        signer = RecordSigner.from_pem_file(STATION_ID, private_path)
        public_pem = public_path.read_bytes()
        records = make_records(count)
        envelopes = [signer.seal(r).SerializeToString(deterministic=True) for r in records]
        print(f"{count} records, {sum(map(len, envelopes)) / count:,.0f} bytes per envelope on average")

        elapsed, stored, uplink = await drain_backlog(work, signer, public_pem, records, window)
        print(
            f"uplink drain:   {elapsed:6.2f} s  {count / elapsed:8,.0f} records/s  "
            f"(window {window}; hub stored {stored}; accepted {uplink.accepted}, duplicate {uplink.duplicate}, "
            f"rejected {uplink.rejected}, reconnects {uplink.reconnects})"
        )
        base_s, base_accepted = await bare_stream(work, public_pem, envelopes)
        print(
            f"bare stream:    {base_s:6.2f} s  {count / base_s:8,.0f} records/s  (accepted {base_accepted})"
        )
        print(f"ratio uplink / bare stream: {elapsed / base_s:.2f}")
        stored_once = stored == count and uplink.rejected == 0
        ok = stored_once and elapsed < 30.0
        print("goal (< 30 s, everything stored once):", "met" if ok else "NOT met")
        # A slow drain is a figure (benchmarks/run: a goal missed is not a failure); a record lost,
        # doubled or refused is a fault, and fails the run.
        return 0 if stored_once else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=64)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.records, arguments.window)))

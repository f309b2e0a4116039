"""Parse, verify and judge off the event loop (``hub.record_checker``): every check mode gives the
same Acks, in order, and stores the same rows; a process pool gets keys as raw bytes."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.envelope_check import EnvelopeLimits, KnownKey, RejectionKind
from hub.errors import HubConfigError
from hub.record_checker import (
    CheckedRecord,
    CheckMode,
    CheckRequest,
    RecordChecker,
    Refusal,
    _check_batch_in_process,
    _portable,
)
from hub.server import HubServer
from hub.store import HubStore
from hub.verdict import VerdictJudge, verdict_to_json
from inspection.verdicts import judge
from protos.envelope import key_id_of, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import ingest_pb2
from simulators.realistic_record import realistic_record
from tongjian.cli import main

ACCEPTED = ingest_pb2.ACK_STATUS_ACCEPTED
DUPLICATE = ingest_pb2.ACK_STATUS_DUPLICATE
REJECTED = ingest_pb2.ACK_STATUS_REJECTED


@pytest.mark.parametrize("mode", list(CheckMode))
async def test_every_check_mode_answers_in_order_and_stores_the_hubs_verdict(
    mode: CheckMode, hub_config, enrol, submit, station_key
) -> None:  # type: ignore[no-untyped-def]
    records = [realistic_record(i, station_key.station_id) for i in range(12)]
    async with HubServer(hub_config(check_mode=mode, check_workers=2, check_batch_max=4)) as hub:
        station = enrol(hub, station_key)
        envelopes = [station.seal(record).SerializeToString() for record in records]
        tampered = bytearray(envelopes[3])
        tampered[-1] ^= 0x01  # the signature's last byte
        stream = [*envelopes[:6], bytes(tampered), envelopes[2], *envelopes[6:]]
        outcomes = await asyncio.gather(submit(hub.port, stream), submit(hub.port, envelopes[6:]))
        first, second = outcomes
        assert first.error is None and second.error is None
        ids = [str(r.record_id) for r in records]
        assert [a.record_id for a in first.acks] == [*ids[:6], ids[3], ids[2], *ids[6:]]
        statuses = [a.status for a in first.acks]
        assert statuses[:6] == [ACCEPTED] * 6
        assert statuses[6] == REJECTED and "signature" in first.acks[6].reason
        assert statuses[7] == DUPLICATE  # sent again on the same stream: stored once, answered in order
        # records 6.. went on two streams at once: each is stored once, the other stream says DUPLICATE
        later = statuses[8:] + [a.status for a in second.acks]
        assert sorted(later) == sorted([ACCEPTED] * 6 + [DUPLICATE] * 6)
        assert hub.store.count_records() == 12
        stored = hub.store.get_record(ids[5], station_key.station_id)
        assert stored is not None and stored.hub_verdict == verdict_to_json(judge(records[5]))


def test_a_process_pool_needs_a_judge_that_pickles() -> None:
    with pytest.raises(HubConfigError, match="pickles"):
        RecordChecker(EnvelopeLimits(), VerdictJudge(lambda record: judge(record)), CheckMode.PROCESSES)


@pytest.mark.parametrize("bad", [{"max_batch": 0}, {"workers": 0}])
def test_batch_and_worker_counts_must_be_positive(bad: dict[str, int]) -> None:
    with pytest.raises(HubConfigError):
        RecordChecker(EnvelopeLimits(), VerdictJudge(None), CheckMode.THREADS, **bad)  # type: ignore[arg-type]


def test_a_worker_process_rebuilds_keys_from_raw_bytes_and_keeps_the_verdict_only_to_forward() -> None:
    private = Ed25519PrivateKey.generate()
    key_id = key_id_of("50-0001", private.public_key())
    key = KnownKey(key_id, "50-0001", private.public_key())
    local = realistic_record(1, "50-0001", province="50")
    foreign = realistic_record(2, "50-0001", province="51")
    now = datetime.now(UTC)
    requests = [
        CheckRequest(seal(record_to_bytes(r), key_id, private).SerializeToString(), now, None)
        for r in (local, foreign)
    ]
    requests.append(CheckRequest(b"\xff\xff not a protobuf", now, None))
    results = _check_batch_in_process(EnvelopeLimits(), VerdictJudge(None), "50", requests, [_portable(key)])
    assert isinstance(results[0], CheckedRecord) and results[0].hub_verdict is None
    assert isinstance(results[1], CheckedRecord) and results[1].hub_verdict == judge(foreign)
    assert results[1].row.hub_verdict == verdict_to_json(judge(foreign))
    assert isinstance(results[2], Refusal) and results[2].kind is RejectionKind.NOT_AN_ENVELOPE
    # the other key is not in the batch's key list: refused as unknown, not a crash
    unknown = _check_batch_in_process(EnvelopeLimits(), VerdictJudge(None), "50", requests[:1], [])
    assert isinstance(unknown[0], Refusal) and unknown[0].kind is RejectionKind.UNKNOWN_KEY


@pytest.mark.parametrize("mode", [CheckMode.THREADS, CheckMode.PROCESSES])
async def test_records_still_being_checked_at_stop_are_committed(
    mode: CheckMode, hub_config, enrol, submit, station_key
) -> None:  # type: ignore[no-untyped-def]
    # A process pool's workers take a while to start: at stop, records read are still in the checker.
    hub = HubServer(hub_config(check_mode=mode, check_workers=1, check_batch_max=2))
    await hub.start()
    station = enrol(hub, station_key)
    envelopes = [station.seal(realistic_record(i, station_key.station_id)) for i in range(40)]
    sending = asyncio.create_task(submit(hub.port, envelopes))
    await asyncio.sleep(0.1)
    await hub.stop(grace=0.0)  # streams end at once: nothing waits for Acks
    outcome = await sending
    acked = {a.record_id for a in outcome.acks if a.status == ACCEPTED}
    store = HubStore(hub.config.database_url)
    try:
        stored = {r.record_id for r in store.list_records(limit=100)}
    finally:
        store.dispose()
    assert acked <= stored
    read = hub.metrics.received.collect()[0].samples[0].value
    # Every record read was committed, none dropped - but the one the reader may have been taking
    # in when stop cancelled it (it never reached the checker; the station sends it again).
    assert read > 0 and read - 1 <= len(stored) <= read


def test_serve_refuses_a_worker_count_below_one(capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["hub", "serve", "--insecure", "--database-url", "sqlite:///:memory:", "--check-workers", "0"]
    assert main(argv) == 2
    assert "--check-workers must be at least 1, not 0" in capsys.readouterr().err


@pytest.mark.slow
async def test_hub_serve_with_a_process_pool_accepts_records(
    tmp_path: Path, station_key, signer, make_record, submit
) -> None:  # type: ignore[no-untyped-def]
    # The real command, its own process, the pool's workers spawned from it (not forked: the hub's
    # process already runs gRPC's threads); a worker must not run the command line again.
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    store = HubStore(url)
    try:
        store.register_station("50-0001")
        store.add_station_key("50-0001", station_key.public_path.read_bytes())
    finally:
        store.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "tongjian", "hub", "serve", "--insecure", "--listen", "127.0.0.1:0",
         "--database-url", url, "--check-mode", "processes", "--check-workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"port (\d+)", line)
        assert match, f"unexpected first line {line!r}"
        outcome = await submit(int(match.group(1)), [signer.seal(make_record(i)) for i in range(5)])
        assert [a.status for a in outcome.acks] == [ACCEPTED] * 5
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
    assert process.stdout.read() == ""  # nothing else printed: no worker ran the command line again


@pytest.mark.slow
def test_the_workers_of_a_killed_hub_exit(tmp_path: Path) -> None:
    # A hub killed outright (SIGKILL, the OOM killer) cannot close its pool: its workers waited on
    # their queue for ever, two more processes behind every killed hub.
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "tongjian", "hub", "serve", "--insecure", "--listen", "127.0.0.1:0",
         "--database-url", url, "--check-mode", "processes", "--check-workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert process.stdout is not None and "port" in process.stdout.readline()
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        workers = [int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(workers) == 2
    finally:
        process.kill()
        process.wait(timeout=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)  # leave the machine as it was, then fail
    assert alive == []


async def test_start_brings_every_process_worker_up_before_the_first_batch() -> None:
    # Spawned lazily, the workers started with the first batch and its records waited for them.
    checker = RecordChecker(EnvelopeLimits(), VerdictJudge(None), CheckMode.PROCESSES, workers=2)
    try:
        before = {child.pid for child in multiprocessing.active_children()}
        await checker.start()
        workers = {child.pid for child in multiprocessing.active_children()} - before
        assert len(workers) == 2
    finally:
        checker.close()

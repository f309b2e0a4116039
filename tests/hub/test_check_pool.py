"""The hub's check worker processes: answers to the right batch, a worker's death costs only its
batch, a fault in the check fails only its batch, close ends them all."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.check_pool import CheckPool
from hub.envelope_check import EnvelopeLimits, KnownKey
from hub.errors import CheckWorkerLost, HubError
from hub.record_checker import CheckedRecord, CheckMode, CheckRequest, RecordChecker
from hub.verdict import VerdictJudge
from protos.envelope import key_id_of, seal
from protos.record_mapping import record_to_bytes
from simulators.realistic_record import realistic_record


def echo_after(delay_s: float, tag: str, value: int) -> tuple[str, int, int]:
    """The job the pool's workers run here: waits, then says who answered what."""
    if value < 0:
        raise ValueError(f"negative value {value}")
    time.sleep(delay_s)
    return tag, value, os.getpid()


async def test_every_batch_gets_its_own_answer_from_some_worker() -> None:
    pool = CheckPool(2, echo_after, (0.001, "t"))
    await pool.start()
    try:
        answers = await asyncio.gather(*(pool.submit(value) for value in range(200)))
    finally:
        pool.close()
    assert [(tag, value) for tag, value, _ in answers] == [("t", value) for value in range(200)]
    assert len({pid for _, _, pid in answers}) == 2  # both workers took batches


async def test_a_worker_killed_holding_batches_fails_those_only_and_is_replaced() -> None:
    pool = CheckPool(2, echo_after, (0.3, "t"))
    await pool.start()
    try:
        held = [pool.submit(value) for value in range(6)]  # two held by each worker, two waiting
        await asyncio.sleep(0.1)
        victim = pool._workers[0]
        lost_values = {batch.arguments[0] for batch in victim.held}
        assert len(lost_values) == 2
        assert victim.process.pid is not None
        os.kill(victim.process.pid, signal.SIGKILL)
        results = await asyncio.gather(*held, return_exceptions=True)
        lost = {value for value, r in enumerate(results) if isinstance(r, CheckWorkerLost)}
        assert lost == lost_values
        assert all(r.exitcode == -signal.SIGKILL for r in results if isinstance(r, CheckWorkerLost))
        answered = [r for r in results if isinstance(r, tuple)]
        assert sorted(v for _, v, _ in answered) == sorted(set(range(6)) - lost_values)
        assert pool.replaced == 1
        # The replacement takes batches: later ones are all answered, by two live workers.
        later = await asyncio.gather(*(pool.submit(value) for value in range(10, 16)))
        assert [v for _, v, _ in later] == list(range(10, 16))
        assert victim.process.pid not in {pid for _, _, pid in later}
    finally:
        pool.close()


async def test_a_fault_in_the_check_fails_its_batch_and_the_worker_goes_on() -> None:
    pool = CheckPool(1, echo_after, (0.0, "t"))
    await pool.start()
    try:
        with pytest.raises(HubError, match="ValueError: negative value -1"):
            await pool.submit(-1)
        assert (await pool.submit(7))[1] == 7
        assert pool.replaced == 0
    finally:
        pool.close()


async def test_close_cancels_what_waits_and_ends_every_worker() -> None:
    before = {child.pid for child in multiprocessing.active_children()}
    pool = CheckPool(2, echo_after, (0.2, "t"))
    await pool.start()
    workers = {child.pid for child in multiprocessing.active_children()} - before
    assert len(workers) == 2
    waiting = [pool.submit(value) for value in range(5)]
    await asyncio.sleep(0.05)
    pool.close()
    assert all(future.cancelled() for future in waiting)
    assert not any(child.pid in workers for child in multiprocessing.active_children())
    with pytest.raises(RuntimeError, match="not running"):
        pool.submit(1)


async def test_a_hub_checker_keeps_checking_after_one_of_its_workers_is_killed() -> None:
    # ProcessPoolExecutor broke for good at a worker's death: every later record failed with
    # BrokenProcessPool until the hub restarted.
    private = Ed25519PrivateKey.generate()
    key_id = key_id_of("50-0001", private.public_key())
    keys = {key_id: KnownKey(key_id, "50-0001", private.public_key())}
    before = {child.pid for child in multiprocessing.active_children()}
    checker = RecordChecker(EnvelopeLimits(), VerdictJudge(None), CheckMode.PROCESSES, workers=2)
    await checker.start()
    try:
        workers = {child.pid for child in multiprocessing.active_children()} - before
        os.kill(workers.pop(), signal.SIGKILL)
        await asyncio.sleep(0.5)  # the death is seen; the records below come after it
        now = datetime.now(UTC)
        requests = [
            CheckRequest(
                seal(record_to_bytes(realistic_record(i, "50-0001")), key_id, private).SerializeToString(),
                now,
                None,
            )
            for i in range(6)
        ]
        results = await asyncio.gather(*(checker.check(request, key_id, keys) for request in requests))
    finally:
        checker.close()
    assert all(isinstance(result, CheckedRecord) for result in results)


async def test_workers_leave_ctrl_c_and_sigterm_to_the_hub() -> None:
    # Ctrl-C reaches the terminal's whole process group: workers that died of it were "lost" and
    # replaced while the hub was stopping.
    pool = CheckPool(1, echo_after, (0.0, "t"))
    await pool.start()
    try:
        pid = (await pool.submit(1))[2]
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert (await pool.submit(2))[2] == pid
        assert pool.replaced == 0
    finally:
        pool.close()

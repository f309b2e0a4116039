"""Envelope check, record parse and the hub's verdict, off the event loop and in batches.

Why: a full-size record (four axles of curves, lamps, an emission run, 20 visual checks) costs
about 2 ms of CPU to parse, check and judge, and the Ed25519 verify another 0.1-0.2 ms. On the
event loop that work stalls every stream's reads and Acks. ``RecordChecker`` gathers what the
streams hand in during one turn of the loop into a batch (at most ``max_batch``) and runs the
batch in an executor:

- ``CheckMode.THREADS`` (the default): a thread pool. The Ed25519 verify in ``cryptography``
  releases the GIL, parse and judge do not; the loop stays responsive either way, because it
  only waits on a future.
- ``CheckMode.PROCESSES``: worker processes (``hub.check_pool``), so that parse and judge use
  another core. The limits and the judge go to each worker once, at its start, and must pickle
  (the default rules do; a lambda does not); keys cross as raw bytes (``Ed25519PublicKey`` does
  not pickle) and only those the batch names.
- ``CheckMode.INLINE``: on the loop, one record at a time, as before; the benchmark's "before".

``check_batch`` is the pure part (no loop, no database) that every mode runs.

``start`` brings the worker processes up before the hub serves. Spawned at the first batch instead
(as ``ProcessPoolExecutor`` did), each starts an interpreter and imports the rules, and the records
of the first second waited 0.5-0.9 s for that (p99 Ack at half load was the spawn time, measured
per record in the ingest benchmark).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.check_pool import CheckPool
from hub.envelope_check import (
    EnvelopeLimits,
    KnownKey,
    RecordRejected,
    RejectionKind,
    VerifiedRecord,
    open_envelope,
    verify_envelope,
)
from hub.errors import HubConfigError
from hub.records import PreparedRow, RecordRow, prepare_row, record_row
from hub.verdict import VerdictJudge
from inspection import Verdict


class CheckMode(StrEnum):
    INLINE = "inline"
    THREADS = "threads"
    PROCESSES = "processes"


@dataclass(frozen=True, slots=True)
class CheckRequest:
    raw: bytes  # the SignedRecord as received
    received_at: datetime
    certificate_station: str | None


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """A record that passed every check, as the writer and the forwarder need it."""

    prepared: PreparedRow  # the row, with its digest and verdict JSON made here rather than by the writer
    registration_province: str
    # For the forwarding item of another province's vehicle; a process worker leaves it out for
    # a local one (it is the costliest part of the result to pickle, and nothing needs it).
    hub_verdict: Verdict | None

    @property
    def row(self) -> RecordRow:
        return self.prepared.row


@dataclass(frozen=True, slots=True)
class Refusal:
    """A ``RecordRejected``, in a form that crosses a process boundary (its exceptions do not)."""

    kind: RejectionKind
    reason: str
    record_id: str
    key_id: str

    def error(self) -> RecordRejected:
        return RecordRejected(self.kind, self.reason, self.record_id, self.key_id)


CheckResult = CheckedRecord | Refusal


def check_one(
    request: CheckRequest, keys: Mapping[str, KnownKey], limits: EnvelopeLimits, judge: VerdictJudge
) -> CheckResult:
    try:
        envelope = open_envelope(request.raw)
        verified: VerifiedRecord = verify_envelope(
            envelope, keys, limits, request.received_at, request.certificate_station
        )
    except RecordRejected as rejected:
        return Refusal(rejected.kind, rejected.reason, rejected.record_id, rejected.key_id)
    hub_verdict = judge(verified.record)
    return CheckedRecord(
        prepare_row(record_row(verified, request.received_at, hub_verdict)),
        verified.record.vehicle.registration_province,
        hub_verdict,
    )


def check_batch(
    requests: Sequence[CheckRequest],
    keys: Mapping[str, KnownKey],
    limits: EnvelopeLimits,
    judge: VerdictJudge,
) -> list[CheckResult]:
    return [check_one(request, keys, limits, judge) for request in requests]


# What a process worker gets for a key: KnownKey with the public key as its 32 raw bytes.
_PortableKey = tuple[str, str, bytes, datetime | None, datetime | None, datetime | None]


def _portable(key: KnownKey) -> _PortableKey:
    raw = key.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return (key.key_id, key.station_id, raw, key.valid_from, key.valid_until, key.revoked_at)


@functools.lru_cache(maxsize=4096)
def _known_key(portable: _PortableKey) -> KnownKey:
    key_id, station_id, raw, valid_from, valid_until, revoked_at = portable
    return KnownKey(
        key_id, station_id, Ed25519PublicKey.from_public_bytes(raw), valid_from, valid_until, revoked_at
    )


def _check_batch_in_process(
    limits: EnvelopeLimits,
    judge: VerdictJudge,
    home_province: str | None,
    requests: Sequence[CheckRequest],
    keys: Sequence[_PortableKey],
) -> list[CheckResult]:
    """A batch in a worker process (``hub.check_pool``): the rules and limits came once, at its start."""
    known = {portable[0]: _known_key(portable) for portable in keys}
    results = check_batch(requests, known, limits, judge)
    return [
        dataclasses.replace(result, hub_verdict=None)
        if isinstance(result, CheckedRecord) and result.registration_province == home_province
        else result
        for result in results
    ]


@dataclass(slots=True)
class _Waiting:
    request: CheckRequest
    key_id: str
    future: asyncio.Future[CheckResult]


class RecordChecker:
    """Checks records for the streams of one event loop; ``close`` shuts its executor down."""

    def __init__(
        self,
        limits: EnvelopeLimits,
        judge: VerdictJudge,
        mode: CheckMode = CheckMode.THREADS,
        workers: int | None = None,
        max_batch: int = 32,
        home_province: str | None = None,
    ) -> None:
        if max_batch < 1:
            raise HubConfigError(f"check_batch_max must be at least 1, not {max_batch}")
        if workers is not None and workers < 1:
            raise HubConfigError(f"check_workers must be at least 1, not {workers}")
        self.mode = mode
        self._limits = limits
        self._judge = judge
        self._max_batch = max_batch
        self._home_province = home_province  # records of its vehicles are not forwarded
        count = workers if workers is not None else max(2, os.cpu_count() or 1)
        self._workers = count
        self._executor: concurrent.futures.Executor | None = None
        self._pool: CheckPool | None = None
        if mode is CheckMode.THREADS:
            self._executor = concurrent.futures.ThreadPoolExecutor(count, thread_name_prefix="hub-check")
        elif mode is CheckMode.PROCESSES:
            try:
                pickle.dumps(judge)
            except (pickle.PicklingError, AttributeError, TypeError) as error:
                raise HubConfigError(f"check_mode processes needs a judge that pickles: {error}") from error
            self._pool = CheckPool(
                count, _check_batch_in_process, (limits, judge, home_province), on_idle=self._flush
            )
        self._gathering: list[_Waiting] = []
        self._keys: Mapping[str, KnownKey] = {}
        self._flush_scheduled = False

    async def start(self) -> None:
        """Bring the workers up (see the module docstring); returns once they take batches."""
        if self._pool is not None:
            await self._pool.start()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
        if self._pool is not None:
            self._pool.close()

    def check(
        self, request: CheckRequest, key_id: str, keys: Mapping[str, KnownKey]
    ) -> asyncio.Future[CheckResult]:
        """The result of checking ``request`` against ``keys`` (the station directory now)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CheckResult] = loop.create_future()
        if self._executor is None and self._pool is None:
            future.set_result(check_one(request, keys, self._limits, self._judge))
            return future
        self._keys = keys  # the newest directory; a batch is checked against one directory
        self._gathering.append(_Waiting(request, key_id, future))
        if len(self._gathering) >= self._max_batch:
            self._flush()
        elif not self._flush_scheduled:
            # Whatever else arrives in this turn of the loop joins the batch.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pool is not None and self._pool.busy and len(self._gathering) < self._max_batch:
            return  # every worker is busy: the records wait here and go as one batch at on_idle
        batch, self._gathering = self._gathering, []
        if not batch:
            return
        requests = [waiting.request for waiting in batch]
        done: asyncio.Future[list[CheckResult]]
        if self._pool is not None:
            needed = {w.key_id for w in batch}
            portable = [_portable(key) for key_id, key in self._keys.items() if key_id in needed]
            done = self._pool.submit(requests, portable)
        elif self._executor is not None:
            done = asyncio.wrap_future(
                self._executor.submit(check_batch, requests, self._keys, self._limits, self._judge)
            )
        else:
            return
        done.add_done_callback(functools.partial(_settle, batch))


def _settle(batch: list[_Waiting], done: asyncio.Future[list[CheckResult]]) -> None:
    error = done.exception() if not done.cancelled() else asyncio.CancelledError()
    for index, waiting in enumerate(batch):
        if waiting.future.done():
            continue
        if error is not None:
            waiting.future.set_exception(error)
        else:
            waiting.future.set_result(done.result()[index])

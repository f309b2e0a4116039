"""The hub's one writer: records and audit entries from every stream, committed in batches.

It gathers work into batches of up to ``max_batch`` items, waiting at most ``wait_ms`` for a
batch to fill, and commits each batch as one transaction in a worker thread
(``HubStore.commit_batch``). What is a duplicate is decided by the database inside that
transaction, so replicas sharing a database agree without talking to each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hub.audit import AuditEntry
from hub.errors import CommitFailed, HubConfigError, HubShuttingDown
from hub.forward_outbox import ForwardRow
from hub.metrics import HubMetrics
from hub.records import CommitOutcome, RecordRow
from hub.store import HubStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Work:
    record: RecordRow | None
    audit: AuditEntry | None
    forward: ForwardRow | None
    future: asyncio.Future[CommitOutcome | None]


_STOP = object()

HealthReport = Callable[[bool], Awaitable[None]]  # True: the writer commits again; False: it cannot


class GroupCommitter:
    """The hub's one writer, supervised.

    A batch that fails for any reason (a database error, or a bug: any ``Exception``) is retried
    item by item, so one bad item costs only itself; what still fails has its future failed with
    ``CommitFailed`` (the station gets UNAVAILABLE and resends), is logged and counted
    (``tongjian_hub_commit_failures_total``). After ``max_consecutive_failures`` batches in a row
    stored nothing, the writer reports itself unhealthy (gRPC health NOT_SERVING, so a load
    balancer sends stations elsewhere) and healthy again after the next batch that stores. If the
    writer task itself ends other than by ``close`` (a bug in the loop), everything waiting fails,
    new work is refused and health stays NOT_SERVING.
    """

    def __init__(
        self,
        store: HubStore,
        metrics: HubMetrics,
        max_batch: int = 256,
        wait_ms: float = 2.0,
        max_consecutive_failures: int = 3,
        report_health: HealthReport | None = None,
    ) -> None:
        if max_batch < 1:
            raise HubConfigError(f"group_commit_max must be at least 1, not {max_batch}")
        if max_consecutive_failures < 1:
            raise HubConfigError(
                f"writer_max_consecutive_failures must be at least 1, not {max_consecutive_failures}"
            )
        self._store = store
        self._metrics = metrics
        self._max_batch = max_batch
        self._wait_s = wait_ms / 1000.0
        self._max_failures = max_consecutive_failures
        self._report_health = report_health
        self._failures_in_a_row = 0
        self._healthy = True
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._batch_full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._dead: BaseException | None = None
        self._in_flight: list[_Work] = []  # the batch being committed, failed too if the loop dies
        # Called after a commit that wrote forwarding items (the forwarder sends them at once).
        self.on_forwarding: Callable[[], None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervised(), name="hub group commit")

    async def close(self) -> None:
        """Commit everything already handed in, then stop."""
        if self._task is None or self._closing:
            return
        self._closing = True
        self._queue.put_nowait(_STOP)
        self._batch_full.set()
        await self._task

    def store_record(
        self, record: RecordRow, forward: ForwardRow | None = None
    ) -> asyncio.Future[CommitOutcome | None]:
        """Store ``record`` (and its forwarding item, if it goes to another province's hub)."""
        return self._put(record, None, forward)

    def append_audit(self, entry: AuditEntry) -> asyncio.Future[CommitOutcome | None]:
        return self._put(None, entry, None)

    def _put(
        self, record: RecordRow | None, audit: AuditEntry | None, forward: ForwardRow | None
    ) -> asyncio.Future[CommitOutcome | None]:
        if self._dead is not None:
            raise CommitFailed(f"the hub's writer has stopped ({self._dead}); retry")
        if self._closing:
            raise HubShuttingDown("the hub is shutting down")
        future: asyncio.Future[CommitOutcome | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Work(record, audit, forward, future))
        if self._queue.qsize() >= self._max_batch:
            self._batch_full.set()
        return future

    async def _supervised(self) -> None:
        try:
            await self._run()
        except BaseException as error:
            self._dead = error if isinstance(error, Exception) else CommitFailed("writer cancelled")
            log.critical("the hub's writer stopped: %r; records are refused until restart", error)
            waiting = list(self._in_flight)
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            for item in waiting:
                if isinstance(item, _Work) and not item.future.done():
                    item.future.set_exception(CommitFailed(f"the hub's writer stopped: {error!r}"))
            await self._set_health(False)
            if not isinstance(error, Exception):
                raise

    async def _set_health(self, healthy: bool) -> None:
        if healthy is self._healthy:
            return
        self._healthy = healthy
        if self._report_health is not None:
            await self._report_health(healthy)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                break
            if self._queue.qsize() < self._max_batch - 1 and self._wait_s > 0:
                self._batch_full.clear()
                with contextlib.suppress(TimeoutError):
                    # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                    async with asyncio.timeout(self._wait_s):
                        await self._batch_full.wait()
            batch: list[_Work] = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._in_flight = batch
            committed = await self._commit(batch)
            self._in_flight = []
            if committed:
                self._failures_in_a_row = 0
                await self._set_health(True)
            else:
                self._failures_in_a_row += 1
                if self._failures_in_a_row >= self._max_failures:
                    log.error(
                        "%d batches in a row stored nothing: reporting NOT_SERVING", self._failures_in_a_row
                    )
                    await self._set_health(False)

    async def _commit(self, batch: list[_Work]) -> bool:
        """Commit ``batch``; True if anything of it was stored."""
        records = [work.record for work in batch if work.record is not None]
        audits = [work.audit for work in batch if work.audit is not None]
        forwards = [work.forward for work in batch if work.forward is not None]
        started = time.perf_counter()
        try:
            outcomes = await asyncio.to_thread(self._store.commit_batch, records, audits, forwards)
        except Exception as error:  # noqa: BLE001 - any failure fails the batch, never the writer
            if len(batch) > 1:
                # Nothing of the batch is stored. One bad item must not cost the others their
                # commit: try each on its own, so only what really cannot be stored fails.
                log.warning(
                    "group commit of %d items failed (%r); committing them one by one", len(batch), error
                )
                stored_any = False
                for work in batch:
                    stored_any = await self._commit([work]) or stored_any
                return stored_any
            # Not stored; the stream ends with UNAVAILABLE and the station sends again.
            log.error("commit failed: %r", error)
            self._metrics.commit_failures.inc()
            failure = CommitFailed(f"could not store: {error!r}")
            failure.__cause__ = error
            for work in batch:
                if not work.future.done():
                    work.future.set_exception(failure)
            return False
        if forwards and self.on_forwarding is not None:
            self.on_forwarding()
        self._metrics.commit_latency.observe(time.perf_counter() - started)
        self._metrics.batch_size.observe(len(batch))
        results = iter(outcomes)
        for work in batch:
            outcome = next(results) if work.record is not None else None
            if not work.future.done():  # the stream may have gone; the commit stands regardless
                work.future.set_result(outcome)
        return True

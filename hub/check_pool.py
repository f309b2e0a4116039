"""Worker processes that check batches of records for the hub: one pipe each, one batch in flight each.

Why not ``concurrent.futures.ProcessPoolExecutor``:

- **Its fixed cost a batch.** A round trip through it from asyncio (a batch of one 10 kB record)
  cost the hub's process 0.42 ms of CPU and 0.86 ms wall: a feeder thread, a manager thread and
  the handoffs of the GIL between them and the loop. A pipe the event loop reads itself
  (``loop.add_reader``) cost 0.07 ms and 0.27 ms. At half load a batch holds one or two records,
  so that was ~0.35 ms of the hub's own CPU a record, and two thread hops on every Ack's path.
- **A dead worker broke it for good.** One worker killed (the OOM killer) made every later batch
  fail with ``BrokenProcessPool`` until the hub restarted. Here only the batch that worker held
  fails (``CheckWorkerLost``: its streams end and the stations send again) and a new worker takes
  its place.

A worker is handed a batch only while idle, so the parent's write meets a reader and does not
wait on a busy one; batches wait in the parent, in order, until a worker is free. ``on_idle`` lets
the caller hold records back while every worker is busy and hand them over as one larger batch:
a round trip a batch, not a round trip a turn of the event loop. A worker exits
when its pipe closes: at ``close``, or when the hub dies and the kernel closes the hub's end.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from hub.errors import CheckWorkerLost, HubError

log = logging.getLogger(__name__)

_READY = b"ready"


@dataclass(frozen=True, slots=True)
class _Failure:
    """An exception raised in a worker, as text (not every exception pickles)."""

    text: str


def _serve(connection: Connection, job: Callable[..., Any], setup: tuple[Any, ...]) -> None:
    """A worker's life: say ready, then answer each batch in order until the pipe closes."""
    # Ctrl-C reaches the whole foreground process group, a service manager's SIGTERM the whole
    # cgroup: the hub decides when its workers end (it closes their pipes), not the signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    connection.send_bytes(_READY)
    while True:
        try:
            arguments = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return  # the hub closed its end, or died
        try:
            answer: Any = job(*setup, *arguments)
        except Exception as error:  # noqa: BLE001 - a fault in the check fails its batch, not the worker
            answer = _Failure(f"{type(error).__name__}: {error}")
        try:
            connection.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, OSError):
            return


@dataclass(slots=True)
class _Batch:
    arguments: tuple[Any, ...]
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    connection: Connection
    ready: bool = False
    batch: _Batch | None = None


class CheckPool:
    """``count`` spawned processes, each running ``job(*setup, *arguments)`` for a batch."""

    def __init__(
        self,
        count: int,
        job: Callable[..., Any],
        setup: tuple[Any, ...],
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """``on_idle`` is called when a worker has nothing to do (its answer given, nothing waiting)."""
        self._count = count
        self._on_idle = on_idle
        self._job = job
        self._setup = setup
        # spawn, not fork: the hub's process has gRPC's and the database driver's threads.
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._waiting: deque[_Batch] = deque()
        self._started: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.replaced = 0  # workers started in place of ones that ended

    async def start(self) -> None:
        """Start the workers; returns once each has imported what it runs and said it is ready."""
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.create_future()
        for _ in range(self._count):
            self._spawn()
        await self._started

    @property
    def idle(self) -> bool:
        """A worker would take a batch now."""
        return any(w.ready and w.batch is None for w in self._workers)

    def submit(self, *arguments: Any) -> asyncio.Future[Any]:
        """The answer of ``job(*setup, *arguments)`` in some worker."""
        if self._loop is None or self._closed:
            raise RuntimeError("the check pool is not running")
        batch = _Batch(arguments, self._loop.create_future())
        if not self._workers:
            batch.future.set_exception(CheckWorkerLost(None))
            return batch.future
        self._waiting.append(batch)
        self._dispatch()
        return batch.future

    def close(self) -> None:
        """End every worker (closing its pipe ends it); batches not answered are cancelled."""
        self._closed = True
        for worker in self._workers:
            self._forget(worker)
            if worker.batch is not None:
                worker.batch.future.cancel()
        for batch in self._waiting:
            batch.future.cancel()
        self._waiting.clear()
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
        self._workers.clear()

    # ---------------------------------------------------------------- inside

    def _spawn(self) -> None:
        assert self._loop is not None
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve, args=(theirs, self._job, self._setup), name="hub-check", daemon=True
        )
        process.start()
        theirs.close()  # the worker holds its own copy; ours alone must not keep its pipe open
        worker = _Worker(process, ours)
        self._workers.append(worker)
        self._loop.add_reader(ours.fileno(), self._on_readable, worker)

    def _dispatch(self) -> None:
        while self._waiting:
            worker = next((w for w in self._workers if w.ready and w.batch is None), None)
            if worker is None:
                return
            batch = self._waiting.popleft()
            if batch.future.cancelled():
                continue
            try:
                worker.connection.send_bytes(pickle.dumps(batch.arguments, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:
                self._waiting.appendleft(batch)
                self._lost(worker)  # which dispatches again, without this worker
                return
            worker.batch = batch

    def _on_readable(self, worker: _Worker) -> None:
        try:
            data = worker.connection.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker)
            return
        if not worker.ready:
            worker.ready = data == _READY
            if self._started is not None and not self._started.done() and all(w.ready for w in self._workers):
                self._started.set_result(None)
        else:
            batch, worker.batch = worker.batch, None
            if batch is not None and not batch.future.done():
                try:
                    answer = pickle.loads(data)
                except Exception as error:  # noqa: BLE001 - an answer that does not load fails its batch only
                    answer = _Failure(f"its answer did not unpickle: {error!r}")
                if isinstance(answer, _Failure):
                    batch.future.set_exception(
                        HubError(f"checking a batch failed in a worker: {answer.text}")
                    )
                else:
                    batch.future.set_result(answer)
        self._dispatch()
        if self._on_idle is not None and self.idle:
            self._on_idle()

    def _forget(self, worker: _Worker) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(worker.connection.fileno())
        worker.connection.close()

    def _lost(self, worker: _Worker) -> None:
        """A worker ended (its pipe closed): fail its batch, start another in its place."""
        self._forget(worker)
        self._workers.remove(worker)
        worker.process.join(timeout=1)
        exitcode = worker.process.exitcode
        if worker.batch is not None and not worker.batch.future.done():
            worker.batch.future.set_exception(CheckWorkerLost(exitcode))
        if self._closed:
            return
        if self._started is not None and not self._started.done():
            self._started.set_exception(CheckWorkerLost(exitcode))
            return
        if worker.ready:
            log.error("a record check worker ended (exit code %s); starting another", exitcode)
            self.replaced += 1
            self._spawn()
        else:
            # A replacement that could not even start would be replaced for ever.
            log.error("a new record check worker ended before it was ready (exit code %s)", exitcode)
        if not self._workers:
            for batch in self._waiting:
                if not batch.future.done():
                    batch.future.set_exception(CheckWorkerLost(exitcode))
            self._waiting.clear()
        self._dispatch()

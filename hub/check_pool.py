"""Worker processes that check batches of records for the hub, over pipes the event loop serves.

Why not ``concurrent.futures.ProcessPoolExecutor``:

- **Its fixed cost a batch.** A round trip through it from asyncio (a batch of one 10 kB record)
  cost the hub's process 0.42 ms of CPU and 0.86 ms wall: a feeder thread, a manager thread and
  the handoffs of the GIL between them and the loop. A pipe the event loop reads itself
  (``loop.add_reader``) cost 0.07 ms and 0.27 ms. At half load a batch holds one or two records,
  so that was ~0.35 ms of the hub's own CPU a record, and two thread hops on every Ack's path.
- **A dead worker broke it for good.** One worker killed (the OOM killer) made every later batch
  fail with ``BrokenProcessPool`` until the hub restarted. Here only the batches that worker held
  fail (``CheckWorkerLost``: their streams end and the stations send again) and a new worker
  takes its place.

Each worker holds up to ``DEPTH`` batches: the next one waits in its pipe while it checks the
first, so it never idles for the hub's loop to hand it more (with one at a time, a single station
draining its backlog through a 64-record window went 25-40 % slower). The hub writes batches
without blocking (the loop finishes a large write when the worker reads), and reads each answer
when the loop sees it ready. While every worker is busy the caller holds records back and hands
them over as one larger batch at ``on_idle``, or as a worker's second batch once it has a full one. A worker exits when its pipe closes: at ``close``, or
when the hub dies and the kernel closes the hub's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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


def _serve(batches: Connection, answers: Connection, job: Callable[..., Any], setup: tuple[Any, ...]) -> None:
    """A worker's life: say ready, then answer each batch in order until the pipe closes."""
    # Ctrl-C reaches the whole foreground process group, a service manager's SIGTERM the whole
    # cgroup: the hub decides when its workers end (it closes their pipes), not the signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    answers.send_bytes(_READY)
    while True:
        try:
            arguments = pickle.loads(batches.recv_bytes())
        except (EOFError, OSError):
            return  # the hub closed its end, or died
        try:
            answer: Any = job(*setup, *arguments)
        except Exception as error:  # noqa: BLE001 - a fault in the check fails its batch, not the worker
            answer = _Failure(f"{type(error).__name__}: {error}")
        try:
            answers.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return


DEPTH = 2  # batches a worker holds: the one it checks and the next


def _frame(data: bytes) -> bytes:
    """``data`` as ``Connection.recv_bytes`` reads it (multiprocessing's length prefix)."""
    if len(data) > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", len(data)) + data
    return struct.pack("!i", len(data)) + data


@dataclass(slots=True)
class _Batch:
    arguments: tuple[Any, ...]
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    answers: Connection  # the worker's answers, read when the loop sees them
    requests: int  # the fd batches go down, non-blocking
    ready: bool = False
    held: deque[_Batch] = field(default_factory=deque)  # sent, not answered: in order
    unsent: bytearray = field(default_factory=bytearray)  # what the pipe did not take yet


class CheckPool:
    """``count`` spawned processes, each running ``job(*setup, *arguments)`` for a batch."""

    def __init__(
        self,
        count: int,
        job: Callable[..., Any],
        setup: tuple[Any, ...],
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """``on_idle`` is called when a worker holds nothing (an answer came, nothing waits)."""
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
        """A worker holds nothing: a batch given now is checked at once."""
        return any(w.ready and not w.held for w in self._workers)

    @property
    def busy(self) -> bool:
        """Every worker holds a batch (with no worker left, nothing is worth waiting for)."""
        return bool(self._workers) and not self.idle

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
        """End every worker (closing its pipes ends it); batches not answered are cancelled."""
        self._closed = True
        for worker in self._workers:
            self._forget(worker)
            for batch in worker.held:
                batch.future.cancel()
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
        theirs_in, ours_out = self._context.Pipe(duplex=False)  # batches: hub -> worker
        ours_in, theirs_out = self._context.Pipe(duplex=False)  # answers: worker -> hub
        process = self._context.Process(
            target=_serve, args=(theirs_in, theirs_out, self._job, self._setup), name="hub-check", daemon=True
        )
        process.start()
        # The worker holds its own copies; ours must not keep its ends open.
        theirs_in.close()
        theirs_out.close()
        requests = os.dup(ours_out.fileno())
        ours_out.close()
        os.set_blocking(requests, False)
        worker = _Worker(process, ours_in, requests)
        self._workers.append(worker)
        self._loop.add_reader(ours_in.fileno(), self._on_readable, worker)

    def _dispatch(self) -> None:
        while self._waiting:
            ready = [w for w in self._workers if w.ready and len(w.held) < DEPTH]
            if not ready:
                return
            worker = min(ready, key=lambda w: len(w.held))
            batch = self._waiting.popleft()
            if batch.future.cancelled():
                continue
            worker.held.append(batch)
            had_unsent = bool(worker.unsent)
            worker.unsent += _frame(pickle.dumps(batch.arguments, protocol=pickle.HIGHEST_PROTOCOL))
            if not had_unsent and not self._write(worker):
                return  # the worker is gone: _lost dispatched again without it

    def _write(self, worker: _Worker) -> bool:
        """Write what the pipe takes now; the loop writes the rest when it can. False: worker gone."""
        assert self._loop is not None
        try:
            written = os.write(worker.requests, worker.unsent)
        except BlockingIOError:
            written = 0
        except OSError:
            self._lost(worker)
            return False
        del worker.unsent[:written]
        if worker.unsent:
            self._loop.add_writer(worker.requests, self._on_writable, worker)
        else:
            self._loop.remove_writer(worker.requests)
        return True

    def _on_writable(self, worker: _Worker) -> None:
        self._write(worker)

    def _on_readable(self, worker: _Worker) -> None:
        try:
            data = worker.answers.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker)
            return
        if not worker.ready:
            worker.ready = data == _READY
            if self._started is not None and not self._started.done() and all(w.ready for w in self._workers):
                self._started.set_result(None)
        elif worker.held:
            batch = worker.held.popleft()
            if not batch.future.done():
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
            self._loop.remove_reader(worker.answers.fileno())
            self._loop.remove_writer(worker.requests)
        worker.answers.close()
        with contextlib.suppress(OSError):
            os.close(worker.requests)

    def _lost(self, worker: _Worker) -> None:
        """A worker ended (its pipe closed): fail its batches, start another in its place."""
        self._forget(worker)
        self._workers.remove(worker)
        worker.process.join(timeout=1)
        exitcode = worker.process.exitcode
        for batch in worker.held:
            if not batch.future.done():
                batch.future.set_exception(CheckWorkerLost(exitcode))
        worker.held.clear()
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

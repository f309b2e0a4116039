"""The destination's write-behind for a bag being fetched: one thread writes the received pieces
into the ``StagingBag`` in order, while the event loop goes on receiving.

Why not ``loop.run_in_executor`` per piece: each piece then costs a future on both sides and a
wake-up of the event loop (a write to its self-pipe) when it is written, hundreds of times for a
bag of photos. Here the loop only appends to a queue; it is woken when it has to wait (more than
``limit_bytes`` queued: memory stays bounded however fast the source sends) and for checkpoints
(one per confirmation interval). A piece the staging bag refuses (``ChunkOutOfPlace``) stops the
writer; the error is raised to the loop at its next ``room`` or ``drain``.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from typing import Any

from hub.archive_stream import Checkpoint, StagingBag

_STOP = object()
_Piece = tuple[int, int, bytes | memoryview]


@dataclass(frozen=True, slots=True)
class _Mark:
    """A place in the queue the loop waits for: settled when every piece before it is written,
    with the staging bag's checkpoint there if ``checkpoint``."""

    future: asyncio.Future[Any]
    checkpoint: bool


class StagingWriter:
    """Owns ``staging`` while open: nothing else may write to it until ``close`` returned."""

    def __init__(self, staging: StagingBag, limit_bytes: int) -> None:
        self._staging = staging
        self._limit = limit_bytes
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[_Piece | _Mark | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued = 0  # bytes put and not yet written
        self._full = False  # the loop waits for room (set under the lock)
        self._room = asyncio.Event()
        self._room.set()
        self._error: BaseException | None = None
        self._discard = False  # closing: queued pieces are dropped
        self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the event loop's side

    def put(self, file_index: int, offset: int, data: bytes | memoryview) -> None:
        with self._lock:
            self._queued += len(data)
            if self._queued >= self._limit and not self._full:
                self._full = True
                self._room.clear()
        self._queue.put((file_index, offset, data))

    @property
    def queued_bytes(self) -> int:
        """Bytes put and not yet written (less than the limit whenever ``room`` has returned)."""
        with self._lock:
            return self._queued

    async def room(self) -> None:
        """Wait until less than the limit is queued; the writer's error, if it stopped on one."""
        await self._room.wait()
        self._raise()

    def checkpoint(self) -> asyncio.Future[Checkpoint]:
        """The staging bag's checkpoint after every piece put so far, taken by the writer (the
        files it names are then the caller's to make durable before it confirms the position)."""
        future: asyncio.Future[Checkpoint] = self._loop.create_future()
        self._queue.put(_Mark(future, checkpoint=True))
        return future

    async def drain(self) -> None:
        """Wait until every piece put is written; the writer's error, if it stopped on one. Takes
        no checkpoint: the files written since the last one stay the next checkpoint's to sync."""
        future: asyncio.Future[Checkpoint | None] = self._loop.create_future()
        self._queue.put(_Mark(future, checkpoint=False))
        await future
        self._raise()

    async def close(self) -> None:
        """Stop the writer and wait for it, even when cancelled: the caller closes the staging bag
        next, and no write may land after that. Pieces still queued are dropped: after a
        ``drain`` there are none, and after a failure they were never confirmed (a resumed fetch
        cuts the staging bag back to its confirmed position anyway)."""
        self._discard = True
        self._queue.put(_STOP)
        try:
            await asyncio.to_thread(self._thread.join)
        except asyncio.CancelledError:
            self._thread.join()  # short: the rest of the queue is dropped, not written
            raise

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Mark):
                self._settle(item)
                continue
            assert isinstance(item, tuple)
            file_index, offset, data = item
            if self._error is None and not self._discard:
                try:
                    self._staging.write(file_index, offset, data)
                except Exception as error:  # noqa: BLE001 - handed to the loop and raised there, never lost
                    self._error = error
            with self._lock:
                self._queued -= len(data)
                wake = self._full and (self._queued < self._limit // 2 or self._error is not None)
                if wake:
                    self._full = False
            if wake:
                self._loop.call_soon_threadsafe(self._room.set)

    def _settle(self, mark: _Mark) -> None:
        future = mark.future
        if self._error is not None:
            self._loop.call_soon_threadsafe(_fail, future, self._error)
            return
        if not mark.checkpoint:
            self._loop.call_soon_threadsafe(_succeed, future, None)
            return
        try:
            checkpoint = self._staging.checkpoint()
        except Exception as error:  # noqa: BLE001 - handed to the loop likewise
            self._error = error
            self._loop.call_soon_threadsafe(_fail, future, error)
            return
        self._loop.call_soon_threadsafe(_succeed, future, checkpoint)


def _succeed(future: asyncio.Future[Any], result: Checkpoint | None) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)

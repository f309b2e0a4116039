"""The hub's periodic audit checkpoint: every interval, if the audit log grew, sign its tree.

Several replicas may run it at once; one checkpoint per size is stored (the first replica's), the
others find the size taken. A hub without a signing key writes none and says so once, at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from hub.audit_checkpoint import CheckpointKey
from hub.audit_tree import AuditTree, AuditTreeError, StoredCheckpoint
from hub.metrics import HubMetrics

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(
        self,
        tree: AuditTree,
        key: CheckpointKey,
        interval_s: float,
        metrics: HubMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._tree = tree
        self._key = key
        self._interval_s = interval_s
        self._metrics = metrics
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Called on the event loop after each new checkpoint (the witnesser shows it to peers).
        self.on_checkpoint: Callable[[], None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-checkpointer")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Check now rather than at the end of the interval."""
        self._wake.set()

    async def checkpoint_now(self) -> StoredCheckpoint | None:
        return await asyncio.to_thread(self._write)

    def _write(self) -> StoredCheckpoint | None:
        try:
            written = self._tree.write_checkpoint(self._key, self._clock())
        except AuditTreeError as error:
            self._metrics.audit_checkpoint_failures.labels("inconsistent").inc()
            log.error("audit checkpoint refused: %s", error)
            return None
        except SQLAlchemyError as error:
            self._metrics.audit_checkpoint_failures.labels("database").inc()
            log.warning("audit checkpoint not written (database): %s", str(error).splitlines()[0])
            return None
        if written is not None:
            self._metrics.audit_checkpoints.inc()
            self._metrics.audit_checkpoint_size.set(written.size)
        return written

    async def _run(self) -> None:
        while True:
            written = await asyncio.to_thread(self._write)
            if written is not None and self.on_checkpoint is not None:
                self.on_checkpoint()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()

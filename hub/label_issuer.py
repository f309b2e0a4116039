"""The label issuer: a background task that keeps calling ``LabelBook.issue_pending`` so that
every passed record gets its inspection label within about ``interval`` seconds.

Every replica may run one: the book's inserts ignore duplicates, so they never issue a label twice.
A database error is logged and retried on the next tick (the records wait; nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError

from hub.label_book import LabelBook

log = logging.getLogger(__name__)


class LabelIssuer:
    def __init__(
        self, book: LabelBook, interval: float = 1.0, batch: int = 200, pass_budget_s: float = 0.02
    ) -> None:
        self._book = book
        self._interval = interval
        self._batch = batch
        self._pass_budget_s = pass_budget_s
        self._task: asyncio.Task[None] | None = None
        self.issued = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="label-issuer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def catch_up(self) -> int:
        """Issue until a pass finds a short batch (the backlog is done); the labels stored."""
        stored = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            done = await asyncio.to_thread(self._book.issue_pending, self._batch, self._pass_budget_s)
            stored += done.issued
            # A pass that stored nothing is another replica's work, or records that do not
            # decode (logged): the next tick looks again rather than this loop spinning on them.
            if not done.more or done.issued == 0:
                self.issued += stored
                return stored
            # Signing is Python holding the GIL: a pause as long as the pass leaves the event
            # loop and the check workers at least half of it while a backlog is labelled.
            await asyncio.sleep(loop.time() - started)

    async def _run(self) -> None:
        while True:
            try:
                await self.catch_up()
            except SQLAlchemyError as exc:
                log.warning("label issuer: database error, retrying in %.1f s: %s", self._interval, exc)
            await asyncio.sleep(self._interval)

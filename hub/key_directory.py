"""The station keys the ingest service checks signatures against, cached between reloads.

A reload after the time-to-live runs in the background while records go on being checked against
the keys loaded before: every reader awaited the reload before, and each one (10-50 ms on a busy
hub, a database read in a worker thread) held up every stream's next record every ``ttl_s``
seconds, a visible share of the hub's p99 Ack latency. So another replica's key change applies
here within ``ttl_s`` plus one reload. Readers still wait for a reload when this process changed
the directory itself (its own revocation applies to the very next record), on the first load,
and once the keys are ``MAX_STALE_TTLS`` times ``ttl_s`` old (background reloads failing): the
bound on stale keys holds even with a database that cannot be read.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from hub.envelope_check import KnownKey
from hub.store import HubStore

log = logging.getLogger(__name__)

MAX_STALE_TTLS = 3


class KeyDirectory:
    """The station keys, cached: reloaded when this process changed them, or after ``ttl_s``
    (the bound on how long another replica's revocation takes to reach this one)."""

    def __init__(self, store: HubStore, ttl_s: float = 2.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._keys: dict[str, KnownKey] = {}
        self._loaded_at = float("-inf")
        self._version = -1
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    async def keys(self) -> dict[str, KnownKey]:
        age = time.monotonic() - self._loaded_at
        if self._version == self._store.directory_version and age < MAX_STALE_TTLS * self._ttl_s:
            if age >= self._ttl_s and self._refreshing is None:
                self._refreshing = asyncio.create_task(self._refresh(), name="station key reload")
            return self._keys
        async with self._lock:
            if not self._fresh():
                await self._reload()
        return self._keys

    async def refreshed(self) -> None:
        """Wait for the background reload under way, if any (for tests and shutdown)."""
        if self._refreshing is not None:
            await asyncio.wait({self._refreshing})

    def _fresh(self) -> bool:
        return (
            self._version == self._store.directory_version
            and time.monotonic() - self._loaded_at < self._ttl_s
        )

    async def _reload(self) -> None:
        version = self._store.directory_version
        self._keys = await asyncio.to_thread(self._store.known_keys)
        self._version = version
        self._loaded_at = time.monotonic()

    async def _refresh(self) -> None:
        try:
            async with self._lock:
                if not self._fresh():
                    await self._reload()
        except SQLAlchemyError as error:
            # The cached keys stay in use; readers wait for a reload once they are too old.
            log.warning("reloading the station keys failed: %s; using the keys loaded before", error)
        finally:
            self._refreshing = None

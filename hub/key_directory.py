"""The station keys the ingest service checks signatures against, cached between reloads."""

from __future__ import annotations

import asyncio
import time

from hub.envelope_check import KnownKey
from hub.store import HubStore


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

    async def keys(self) -> dict[str, KnownKey]:
        if self._fresh():
            return self._keys
        async with self._lock:
            if not self._fresh():
                version = self._store.directory_version
                self._keys = await asyncio.to_thread(self._store.known_keys)
                self._version = version
                self._loaded_at = time.monotonic()
        return self._keys

    def _fresh(self) -> bool:
        return (
            self._version == self._store.directory_version
            and time.monotonic() - self._loaded_at < self._ttl_s
        )

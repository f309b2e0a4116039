"""How many bytes of received records the hub holds, across all streams, before their Acks go out.

Each stream already holds at most a fixed number of records awaiting commit; this bounds the sum
over however many stations are connected. A reader that finds no room waits, stops reading its
stream, and gRPC's flow control slows that station down: memory stays bounded without refusing
anyone. Belongs to one event loop.
"""

from __future__ import annotations

import asyncio

from hub.errors import HubConfigError


class InflightBudget:
    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes < 1:
            raise HubConfigError(f"limit_bytes must be at least 1, not {limit_bytes}")
        self.limit_bytes = limit_bytes
        self.used_bytes = 0
        self.peak_bytes = 0
        self._freed = asyncio.Event()

    async def acquire(self, size: int) -> int:
        """Wait until ``size`` bytes fit; returns what was taken, to give back with ``release``.

        A record larger than the whole budget is taken as the whole budget, so it still passes,
        alone, rather than waiting forever.
        """
        size = min(size, self.limit_bytes)
        while self.used_bytes + size > self.limit_bytes:
            self._freed.clear()
            await self._freed.wait()
        self.used_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)
        return size

    def release(self, size: int) -> None:
        self.used_bytes -= size
        self._freed.set()

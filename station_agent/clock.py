"""The procedures' clock: procedure seconds, run faster than real time by a time scale.

The test procedures are written in the standard's seconds ("stabilise 15 s, then 30 readings one
second apart"). A ``ScaledClock`` runs them at ``time_scale`` real seconds per procedure second,
so tests and the demo run a two-speed idle in a fraction of a second; the bench simulators take
the same scale, so a simulated engine and the host procedure agree on what "30 s" is.
Wall-clock timestamps for the record (``now``) are never scaled: an inspection record says when it
really happened.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What a procedure needs from time. Implementations: ``ScaledClock``."""

    @property
    def time_scale(self) -> float: ...

    def monotonic(self) -> float:
        """Procedure seconds since an arbitrary, fixed origin."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` procedure seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Wait until ``monotonic()`` reaches ``deadline`` (at once if it has)."""
        ...

    def now(self) -> datetime:
        """The wall-clock time, timezone-aware, unscaled."""
        ...


class ScaledClock:
    """``time_scale`` real seconds per procedure second (1.0 = real time, 0.01 = 100 times faster)."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if not (math.isfinite(time_scale) and time_scale > 0):
            raise ValueError(f"time_scale must be a positive finite number, not {time_scale!r}")
        self._scale = time_scale
        self._origin = time.monotonic()

    @property
    def time_scale(self) -> float:
        return self._scale

    def monotonic(self) -> float:
        return (time.monotonic() - self._origin) / self._scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) * self._scale)

    async def sleep_until(self, deadline: float) -> None:
        await self.sleep(deadline - self.monotonic())

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, procedure_seconds: float) -> float:
        """How long ``procedure_seconds`` take in real time (for I/O timeouts around scaled waits)."""
        return procedure_seconds * self._scale

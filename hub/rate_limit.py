"""Per-station token buckets: how many records a second one station may push into the hub.

A station over its rate gets the stream ended with gRPC status RESOURCE_EXHAUSTED (after the
Acks of every record before the one refused), not an Ack REJECTED: a REJECTED record is parked
in the station's dead-letter table for a person to look at, while RESOURCE_EXHAUSTED makes the
uplink back off and send the same records again later, which is what an over-eager station
needs. Records already handed to the writer are still committed; their resend is a DUPLICATE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import HubConfigError

# Past this many buckets, refilled ones are dropped (a province has a few hundred stations).
_PRUNE_AT = 1024


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class StationRateLimiter:
    """``allow(station_id)`` takes one token from that station's bucket if it has one.

    Buckets hold at most ``burst`` tokens (default: one second's worth, at least 1) and refill at
    ``rate_per_s``. Not thread-safe: it belongs to the event loop.
    """

    def __init__(
        self, rate_per_s: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0:
            raise HubConfigError(f"rate_per_s must be positive, not {rate_per_s}")
        self.rate_per_s = rate_per_s
        self.burst = burst if burst is not None else max(1.0, rate_per_s)
        if self.burst < 1:
            raise HubConfigError(f"burst must be at least 1, not {self.burst}")
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, station_id: str) -> bool:
        now = self._clock()
        if len(self._buckets) >= _PRUNE_AT:
            self._forget_full(now)
        bucket = self._buckets.get(station_id)
        if bucket is None:
            bucket = self._buckets[station_id] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: a new bucket starts full, so nothing changes for them."""
        full = [
            station
            for station, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate_per_s >= self.burst
        ]
        for station in full:
            del self._buckets[station]

    def __len__(self) -> int:
        return len(self._buckets)

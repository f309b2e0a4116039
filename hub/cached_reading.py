"""A value read from the database at most once every ``ttl_s``, for the paths that run for every
record and can live with a value a second or two old: the station directory's sequence number,
which a forwarded body carries for information and a forwarding link compares to decide when to
send a fresh directory (the directory itself is always signed fresh)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedReading(Generic[T]):
    def __init__(self, read: Callable[[], T], ttl_s: float, initial: T) -> None:
        self._read = read
        self._ttl_s = ttl_s
        self._value = initial
        self._read_at = float("-inf")

    def __call__(self) -> T:
        now = time.monotonic()
        if now - self._read_at >= self._ttl_s:
            self._value, self._read_at = self._read(), now
        return self._value

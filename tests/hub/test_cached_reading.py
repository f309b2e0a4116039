"""A cached reading goes to the database once per ttl, not once per record."""

from __future__ import annotations

from hub.cached_reading import CachedReading


def test_read_once_within_the_ttl_and_again_after_it() -> None:
    reads: list[int] = []

    def read() -> int:
        reads.append(len(reads) + 1)
        return reads[-1]

    hourly = CachedReading(read, ttl_s=3600.0, initial=0)
    assert [hourly() for _ in range(5)] == [1, 1, 1, 1, 1]
    always = CachedReading(read, ttl_s=0.0, initial=0)
    assert [always(), always()] == [2, 3]
    assert reads == [1, 2, 3]

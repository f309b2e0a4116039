"""The byte buffer under every sans-I/O serial decoder: bytes fed in, noise counted when dropped."""

from __future__ import annotations


class ReceiveBuffer:
    """Holds received bytes until a decoder (a subclass) cuts frames out of ``_buffer``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        # Bytes thrown away as noise or unfinished frames, for diagnostics ("garbage before reply").
        self.discarded = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def reset(self) -> None:
        self.discarded += len(self._buffer)
        self._buffer.clear()

    def idle(self) -> None:
        """The line went quiet: whatever is buffered can no longer become a frame."""
        self.reset()

    @property
    def pending(self) -> int:
        """How many bytes are buffered (a non-zero value after silence means a partial frame)."""
        return len(self._buffer)

    def _drop(self, count: int) -> None:
        self.discarded += count
        del self._buffer[:count]

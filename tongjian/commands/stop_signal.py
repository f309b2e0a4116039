"""How a serving command learns it is time to stop: Ctrl-C (SIGINT), a service manager's SIGTERM,
or the end of ``--serve-for``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Self

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT and SIGTERM handlers on the running loop, from ``with`` to its end.

    Enter it before the command says it is ready (prints its port or pty): a signal sent as soon
    as a caller reads that line must find the handlers there. They replace whatever the process
    inherited: started in the background of a non-interactive shell, a command inherits SIGINT
    ignored, and Python then never raises KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self._stop.set)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None:
            for signum in STOP_SIGNALS:
                self._loop.remove_signal_handler(signum)

    async def wait(self, seconds: float | None = None) -> None:
        """Return at a stop signal, or after ``seconds`` (None: only at a signal)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


async def until_stopped(seconds: float | None = None) -> None:
    """Return at SIGINT or SIGTERM, or after ``seconds``."""
    with StopSignals() as stop:
        await stop.wait(seconds)

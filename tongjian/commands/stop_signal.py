"""How a serving command learns it is time to stop: Ctrl-C (SIGINT), a service manager's SIGTERM,
or the end of ``--serve-for``."""

from __future__ import annotations

import asyncio
import contextlib
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def until_stopped(seconds: float | None = None) -> None:
    """Return at SIGINT or SIGTERM, or after ``seconds`` (None: only at a signal).

    The handlers replace whatever the process inherited: a command started in the background of a
    non-interactive shell inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)

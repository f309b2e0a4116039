"""RS-232 transport for the serial benches (HLT, EGA, OPM): pyserial underneath, a codec on top.

A ``SerialLink`` owns one port and does one request/reply exchange at a time: flush stale input,
write the request, read until the codec yields a frame or the deadline passes. It knows no message
layout; drivers pass the codec's decoder in and decode the frame themselves. The blocking pyserial
calls run in the link's own worker thread behind a lock, so a port never has two requests in
flight - the benches answer strictly one frame per request - and a headlight reading that takes
seconds never holds a thread of the event loop's shared pool, where the outbox's commits run.

What can be observed, and what it becomes (every error names device, command and cause):

* the port cannot be opened (after ``open_attempts`` tries)          -> ``DeviceUnreachable``
* no complete frame before the deadline: silence, noise only, or a
  partial frame followed by silence (the cause says which)           -> ``DeviceTimeout``
* the port fails on read or write: a USB adapter unplugged, or the
  far end of a pseudo-terminal closed, possibly mid-frame            -> ``DeviceDisconnected``
* a frame with a bad checksum, ``checksum_retries`` + 1 times        -> ``RemoteProtocolError``
* a bad checksum in the reply to a command that changes the bench's
  state (``resend_corrupt=False``): not re-sent, at once           -> ``UnconfirmedCommand``

Closed ports reopen by themselves: the next exchange after a ``DeviceDisconnected`` opens the path
again (a USB adapter plugged back in, or a stable symlink to a re-created pty). How often that is
tried is the caller's policy (the lane's bench supervisor backs off with tenacity).

A real RS-232 cable pulled out of a plain UART cannot be seen at all: the driver only gets silence,
so it reports ``DeviceTimeout``. ``DeviceDisconnected`` needs the OS to tell us (EIO), as it does
for USB-serial adapters and ptys.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, Self, TypeVar

import serial
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_fixed,
)

from equipment.errors import (
    DeviceDisconnected,
    DeviceTimeout,
    DeviceUnreachable,
    RemoteProtocolError,
    UnconfirmedCommand,
)

F = TypeVar("F", covariant=True)
T = TypeVar("T")


class Parity(StrEnum):
    NONE = serial.PARITY_NONE
    EVEN = serial.PARITY_EVEN
    ODD = serial.PARITY_ODD


@dataclass(frozen=True, slots=True)
class SerialConfig:
    """Everything about one serial port; defaults are the spec's 9600 8N1."""

    port: str
    baudrate: int = 9600
    parity: Parity = Parity.NONE
    bytesize: int = 8
    stopbits: float = 1
    # Deadline for a complete reply to an ordinary request (commands that take longer pass their own).
    response_timeout_s: float = 1.0
    # A quiet line this long ends an unfinished frame (at 9600 baud a byte takes ~1 ms).
    idle_gap_s: float = 0.05
    # Re-sends of a request whose reply had a bad checksum, before RemoteProtocolError.
    checksum_retries: int = 2
    # Re-sends of a request the bench refused as busy (NAK 4), and the pause between them.
    busy_retries: int = 5
    busy_retry_wait_s: float = 0.2
    open_attempts: int = 3
    open_retry_wait_s: float = 0.2

    def __post_init__(self) -> None:
        if self.response_timeout_s <= 0 or self.idle_gap_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.checksum_retries < 0 or self.busy_retries < 0 or self.open_attempts < 1:
            raise ValueError("retry counts must not be negative, open_attempts at least 1")


class FrameDecoder(Protocol[F]):
    """What a codec's decoder offers the link (``HltDecoder``, ``binary_frame_codec.FrameDecoder``)."""

    def feed(self, data: bytes) -> None: ...
    def next_frame(self) -> F | None: ...
    def reset(self) -> None: ...
    def idle(self) -> None: ...
    @property
    def pending(self) -> int: ...


class SerialLink:
    def __init__(self, config: SerialConfig) -> None:
        self.config = config
        self._port: serial.Serial | None = None
        # A threading lock, not an asyncio one: the exchange runs in worker threads, and the
        # link may be shared by callers on different event loops (tests, CLI).
        self._lock = threading.Lock()
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None  # made on first request

    # Opening and closing

    def open(self, device: str = "serial") -> None:
        if self._port is not None:
            return
        config = self.config
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(config.open_attempts),
                wait=wait_fixed(config.open_retry_wait_s),
                retry=retry_if_exception_type((serial.SerialException, OSError, termios.error)),
                reraise=True,
            ):
                with attempt:
                    self._port = serial.Serial(
                        port=config.port,
                        baudrate=config.baudrate,
                        parity=str(config.parity),
                        bytesize=config.bytesize,
                        stopbits=config.stopbits,
                        timeout=config.idle_gap_s,
                        exclusive=True,
                    )
        except (serial.SerialException, OSError, termios.error, ValueError) as error:
            raise DeviceUnreachable(
                device, "open", f"cannot open {config.port} after {config.open_attempts} attempts: {error}"
            ) from error

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            # The port may already be gone; a failing close leaves nothing for us to act on.
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)  # an exchange still running ends at its deadline

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Exchanges

    def exchange(
        self,
        request: bytes,
        decoder: FrameDecoder[T],
        *,
        device: str,
        command: str,
        timeout_s: float | None = None,
    ) -> T:
        """One blocking request/reply. Codec errors (bad checksum) propagate unchanged."""
        port = self._port
        if port is None:
            self.open(device)
            port = self._port
            assert port is not None  # open() raised otherwise
        timeout = self.config.response_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        dropped_partial = 0
        try:
            # Bytes that arrived before our request (a late reply to a timed-out one, noise)
            # can never be its answer.
            port.reset_input_buffer()
            decoder.reset()
            port.write(request)
            port.flush()
            while True:
                frame = decoder.next_frame()
                if frame is not None:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                port.timeout = min(remaining, self.config.idle_gap_s)
                chunk = port.read(max(1, port.in_waiting))
                if chunk:
                    decoder.feed(chunk)
                elif decoder.pending:
                    dropped_partial = decoder.pending
                    decoder.idle()
        except (serial.SerialException, OSError, termios.error) as error:
            # termios.error (not an OSError): flushing a pty whose far end closed while we were idle.
            # A partial frame dropped at an idle gap just before the failure was cut short by it too.
            received = decoder.pending or dropped_partial
            where = f"mid-frame ({received} bytes of a reply received)" if received else "before any reply"
            self.close()
            raise DeviceDisconnected(
                device, command, f"port {self.config.port} failed, {where}: {error}"
            ) from error
        if decoder.pending or dropped_partial:
            cause = f"partial frame ({decoder.pending or dropped_partial} bytes) then silence"
        else:
            cause = "no reply"
        raise DeviceTimeout(device, command, f"{cause} within {timeout:g} s on {self.config.port}")

    def exchange_retrying(
        self,
        request: bytes,
        decoder: FrameDecoder[T],
        *,
        device: str,
        command: str,
        corrupt: tuple[type[Exception], ...],
        timeout_s: float | None = None,
        resend_corrupt: bool = True,
    ) -> T:
        """``exchange``, re-sent while the reply is ``corrupt`` (the codec's checksum error).

        With ``resend_corrupt=False`` (a command that changes the bench's state) a corrupt reply
        raises ``UnconfirmedCommand`` at once: the bench answered, so it may well have acted.
        """
        if not resend_corrupt:
            with self._lock:
                try:
                    return self.exchange(
                        request, decoder, device=device, command=command, timeout_s=timeout_s
                    )
                except corrupt as error:
                    raise UnconfirmedCommand(
                        device,
                        command,
                        f"corrupt reply ({error}); not re-sent: the bench may have acted on it already",
                    ) from error
        attempts = self.config.checksum_retries + 1
        with self._lock:
            try:
                for attempt in Retrying(
                    stop=stop_after_attempt(attempts), retry=retry_if_exception_type(corrupt), reraise=True
                ):
                    with attempt:
                        return self.exchange(
                            request, decoder, device=device, command=command, timeout_s=timeout_s
                        )
            except corrupt as error:
                raise RemoteProtocolError(
                    device, command, f"corrupt reply {attempts} times in a row, last: {error}"
                ) from error
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def request(
        self,
        request: bytes,
        decoder: FrameDecoder[T],
        *,
        device: str,
        command: str,
        corrupt: tuple[type[Exception], ...],
        timeout_s: float | None = None,
        resend_corrupt: bool = True,
    ) -> T:
        """Async ``exchange_retrying`` in the link's worker thread (one exchange at a time on this port)."""
        exchange = functools.partial(
            self.exchange_retrying,
            request,
            decoder,
            device=device,
            command=command,
            corrupt=corrupt,
            timeout_s=timeout_s,
            resend_corrupt=resend_corrupt,
        )
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix=f"serial {self.config.port}"
            )
        return await asyncio.get_running_loop().run_in_executor(self._thread, exchange)


def retrying_busy(config: SerialConfig, is_busy: Callable[[BaseException], bool]) -> AsyncRetrying:
    """Tenacity policy for "the bench is busy, ask again": ``busy_retries`` re-sends, fixed pause.

    After the last attempt the busy error itself is re-raised (``reraise``), so callers see the
    device's refusal rather than tenacity's ``RetryError``.
    """
    return AsyncRetrying(
        stop=stop_after_attempt(config.busy_retries + 1),
        wait=wait_fixed(config.busy_retry_wait_s),
        retry=retry_if_exception(is_busy),
        reraise=True,
    )


__all__ = ["FrameDecoder", "Parity", "SerialConfig", "SerialLink", "retrying_busy"]

"""Common runner for the serial bench simulators: a device on a pseudo-terminal, with fault injection.

Theory of operation. ``start()`` opens a pty pair and returns the slave's path (``/dev/pts/N``),
which a driver opens with pyserial exactly as it would open ``/dev/ttyUSB0``. One thread serves
the master side: it feeds received bytes to the bench's codec decoder, asks the subclass for the
reply to each frame, and writes replies when they are due (a reply may be scheduled later, e.g. the
headlight tester's RES after its 2-6 s measurement). The simulator keeps its own handle on the slave
open so the master never sees a hang-up between two host connections.

Unplugging. ``start(link_path=...)`` also makes a stable symlink to the pty (as udev gives a USB
adapter ``/dev/serial/by-id/...``): ``unplug()`` closes the pty and removes the link, as pulling the
adapter does, and ``replug()`` opens a new pty behind the same link. The bench keeps its state
(warm-up, zero) across, as a real one does when only its cable went.

Time. Subclasses think in simulated seconds (``now()``); ``time_scale`` converts: a real second is
``1 / time_scale`` simulated seconds, so ``time_scale=0.01`` runs a 10 s zeroing in 0.1 s.

Faults (``Fault``, or ``parse_fault("reject:4@read/2")`` on the command line) are matched against
each request's command name and fire ``count`` times (``None`` = always):

    garbage        noise bytes (never a start byte) before the reply
    bad-checksum   the reply with a wrong checksum
    partial        the first half of the reply, then silence
    silence        no reply at all
    reject:CODE    a NAK (EGA/OPM) or ERR (HLT) with CODE instead of the reply
    fault          the bench reports a fault (HLT: STAT FAULT)
    close          the first half of the reply, then the pty is closed (device gone)
"""

from __future__ import annotations

import contextlib
import heapq
import os
import select
import threading
import time
import tty
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

# Line noise for the "garbage" fault: no STX (0x02) and no "$", so a correct decoder must skip it.
NOISE = b"\x00\xff\x55\xaa\x13noise\x7e\x81"
# A quiet line this long ends an unfinished request frame (as in the transport).
IDLE_GAP_S = 0.05
# Before closing the pty mid-frame, give the host time to read the half frame, so it sees a
# disconnect *mid-frame* rather than a disconnect with nothing received.
CLOSE_DELAY_S = 0.05


class FaultKind(StrEnum):
    GARBAGE = "garbage"
    BAD_CHECKSUM = "bad-checksum"
    PARTIAL = "partial"
    SILENCE = "silence"
    REJECT = "reject"
    FAULT = "fault"
    CLOSE = "close"


_ALIASES = {"nak": FaultKind.REJECT, "err": FaultKind.REJECT}


@dataclass
class Fault:
    kind: FaultKind
    command: str | None = None  # lower-case command name ("read", "meas"); None matches every request
    code: int | None = None  # for REJECT
    count: int | None = None  # how many times it fires; None = every time

    def __post_init__(self) -> None:
        if self.kind is FaultKind.REJECT and self.code is None:
            raise ValueError("a reject fault needs a code, e.g. reject:4")


def parse_fault(text: str) -> Fault:
    """``KIND[:CODE][@COMMAND][/COUNT]``, e.g. ``bad-checksum@read/1``, ``nak:3``, ``close@meas``."""
    rest, _, count = text.partition("/")
    rest, _, command = rest.partition("@")
    kind_text, _, code = rest.partition(":")
    kind_text = kind_text.strip().lower()
    try:
        kind = _ALIASES.get(kind_text) or FaultKind(kind_text)
        return Fault(
            kind,
            command=command.lower() or None,
            code=int(code) if code else None,
            count=int(count) if count else None,
        )
    except ValueError as error:
        raise ValueError(f"bad fault {text!r}: {error} (KIND[:CODE][@COMMAND][/COUNT])") from error


@dataclass(frozen=True)
class Reply:
    """The bench's correct answer to one request, ``delay_s`` simulated seconds later."""

    data: bytes
    delay_s: float = 0.0


@dataclass(order=True)
class _Outgoing:
    due: float
    sequence: int
    data: bytes = field(compare=False)
    close_after: bool = field(compare=False, default=False)


class SerialDeviceSimulator(ABC):
    """Subclasses implement the bench; this class owns the pty, the thread, time and faults."""

    name = "serial"

    def __init__(self, *, time_scale: float = 1.0, faults: Iterable[Fault] = ()) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.faults = list(faults)
        # Command names of the requests received, in order (tests count retries with it).
        self.received: list[str] = []
        self.path: str | None = None
        self.link_path: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._outgoing: list[_Outgoing] = []
        self._sequence = 0
        self._started = time.monotonic()
        self.closed_by_fault = threading.Event()

    # Life cycle

    def start(self, link_path: str | os.PathLike[str] | None = None) -> str:
        """Open the pty and serve; returns the path a host opens (``link_path`` if one is given)."""
        if self.path is not None:
            return self.link_path or self.path
        self.link_path = None if link_path is None else os.fspath(link_path)
        self._started = time.monotonic()
        self._on_start()
        self._plug_in()
        return self.link_path or str(self.path)

    def _plug_in(self) -> None:
        master, slave = os.openpty()
        # Raw from the start: no echo, no CR/LF translation, before any host configures the port.
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self._wake_r, self._wake_w = os.pipe()
        self.path = os.ttyname(slave)
        if self.link_path is not None:
            # Replace the link in one step: a host opening it meanwhile sees the old or the new pty.
            temporary = f"{self.link_path}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            os.symlink(self.path, temporary)
            os.replace(temporary, self.link_path)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"{self.name}-sim", daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """The adapter is pulled: the pty closes (the host's reads fail) and the link path vanishes."""
        if self.link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)
        self._close_pty()
        self._outgoing.clear()

    def replug(self) -> str:
        """The adapter is back: a new pty behind the same link path; the bench's state is kept."""
        self._plug_in()
        return self.link_path or str(self.path)

    def stop(self) -> None:
        self._close_pty()
        if self.link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)

    def _close_pty(self) -> None:
        self._stop.set()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for attribute in ("_master", "_slave"):
            fd = getattr(self, attribute)
            if fd is not None:
                setattr(self, attribute, None)
                with contextlib.suppress(OSError):
                    os.close(fd)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Time

    def now(self) -> float:
        """Simulated seconds since start."""
        return (time.monotonic() - self._started) / self.time_scale

    # What subclasses implement

    def _on_start(self) -> None:  # noqa: B027 - an optional hook, deliberately not abstract
        """Reset per-run state (called by start())."""

    @abstractmethod
    def _new_decoder(self) -> Any: ...

    @abstractmethod
    def _command_name(self, frame: Any) -> str: ...

    @abstractmethod
    def _handle(self, frame: Any, command: str) -> Reply | None: ...

    @abstractmethod
    def _answer_corrupt_request(self, error: Exception) -> bytes | None:
        """Reply to a request that arrived with a bad checksum (ERR 1 / NAK 1)."""

    @abstractmethod
    def _corrupt(self, reply: bytes) -> bytes:
        """The same reply with a wrong checksum."""

    @abstractmethod
    def _reject(self, command: str, code: int) -> bytes:
        """ERR / NAK with ``code``."""

    @property
    @abstractmethod
    def _codec_errors(self) -> tuple[type[Exception], ...]: ...

    # Faults

    def take_fault(self, command: str, kinds: Iterable[FaultKind] | None = None) -> Fault | None:
        """The first armed fault for ``command`` (one of ``kinds``), consuming one firing."""
        for fault in self.faults:
            if kinds is not None and fault.kind not in kinds:
                continue
            if fault.command not in (None, command) or fault.count == 0:
                continue
            if fault.count is not None:
                fault.count -= 1
            return fault
        return None

    def has_fault(self, kind: FaultKind, command: str | None = None) -> bool:
        return any(f.kind is kind and f.command in (None, command) and f.count != 0 for f in self.faults)

    # The serving thread

    def _schedule(self, data: bytes, delay_s: float = 0.0, close_after: bool = False) -> None:
        self._sequence += 1
        due = time.monotonic() + delay_s * self.time_scale
        heapq.heappush(self._outgoing, _Outgoing(due, self._sequence, data, close_after))

    def _respond(self, frame: Any) -> None:
        command = self._command_name(frame)
        self.received.append(command)
        passive = (FaultKind.FAULT,)
        fault = self.take_fault(command, [k for k in FaultKind if k not in passive])
        if fault is not None and fault.kind is FaultKind.REJECT:
            assert fault.code is not None
            self._schedule(self._reject(command, fault.code))
            return
        reply = self._handle(frame, command)
        if reply is None:
            return
        data, delay = reply.data, reply.delay_s
        match fault.kind if fault else None:
            case FaultKind.SILENCE:
                return
            case FaultKind.GARBAGE:
                data = NOISE + data
            case FaultKind.BAD_CHECKSUM:
                data = self._corrupt(data)
            case FaultKind.PARTIAL:
                data = data[: max(1, len(data) // 2)]
            case FaultKind.CLOSE:
                self._schedule(data[: max(1, len(data) // 2)], delay, close_after=True)
                return
        self._schedule(data, delay)

    def _serve(self) -> None:
        decoder = self._new_decoder()
        last_rx = time.monotonic()
        while not self._stop.is_set() and self._master is not None:
            now = time.monotonic()
            timeout = IDLE_GAP_S
            if self._outgoing:
                timeout = max(0.0, min(timeout, self._outgoing[0].due - now))
            readable, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
            if self._master in readable:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:
                    # EIO: no host holds the slave; we keep our own slave handle, so this is
                    # only transient. Do not spin.
                    time.sleep(IDLE_GAP_S)
                    chunk = b""
                if chunk:
                    last_rx = time.monotonic()
                    decoder.feed(chunk)
            while True:
                try:
                    frame = decoder.next_frame()
                except self._codec_errors as error:
                    answer = self._answer_corrupt_request(error)
                    if answer is not None:
                        self._schedule(answer)
                    continue
                if frame is None:
                    break
                self._respond(frame)
            if decoder.pending and time.monotonic() - last_rx > IDLE_GAP_S:
                decoder.idle()
            self._flush_due()

    def _flush_due(self) -> None:
        while self._outgoing and self._outgoing[0].due <= time.monotonic():
            item = heapq.heappop(self._outgoing)
            if self._master is None:
                return
            try:
                os.write(self._master, item.data)
            except OSError:
                return
            if item.close_after:
                time.sleep(CLOSE_DELAY_S)
                master, self._master = self._master, None
                os.close(master)
                self.closed_by_fault.set()
                return

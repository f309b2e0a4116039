"""A TCP proxy for tests that breaks the network on command (not a test module; import ``FaultProxy``).

Put it between a client and a server and switch what the "network" does while they talk::

    async with FaultProxy("127.0.0.1", hub.port) as proxy:
        uplink = Uplink(outbox, f"127.0.0.1:{proxy.port}")
        ...
        proxy.mode = Mode.STALL      # packets stop, sockets stay open (a dead NAT, a cable pulled)
        proxy.mode = Mode.PASS       # and everything held back flows again
        proxy.cut()                  # every connection reset mid-stream, new ones welcome

Modes, switchable at any time from the event loop's thread:

* ``PASS``  forward both ways.
* ``DROP``  accept new connections and close them at once; connections already open carry on.
* ``STALL`` forward nothing in either direction, keep every socket open; new connections are
            accepted and held silent too. Bytes read before the stall are delivered when it ends,
            nothing is lost or reordered (like a network that queues, then recovers).
* ``CUT``   reset every connection now, and every new one as soon as it is accepted (a link
            that is down hard, as opposed to DROP's server refusing new work).

``cut()`` resets the current connections without changing the mode. ``cut_after_bytes`` (per
connection, counting client-to-server bytes) forwards exactly that many bytes and then resets the
connection: "the stream broke after the third record". Resets are real TCP RSTs (SO_LINGER 0), so
both ends see ECONNRESET rather than an orderly end of stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
from dataclasses import dataclass, field
from types import TracebackType

_CHUNK = 64 * 1024


class Mode(enum.Enum):
    PASS = "pass"
    DROP = "drop"
    STALL = "stall"
    CUT = "cut"


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    bytes_up: int = 0  # client -> server, forwarded
    bytes_down: int = 0  # server -> client, forwarded
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    cut: bool = False


class FaultProxy:
    """An asyncio TCP proxy on 127.0.0.1 (an OS-picked port) in front of ``target_host:target_port``."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        cut_after_bytes: int | None = None,
        cut_after_bytes_down: int | None = None,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.cut_after_bytes = cut_after_bytes
        self.cut_after_bytes_down = cut_after_bytes_down
        self._mode = Mode.PASS
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        # What happened, for assertions.
        self.accepted = 0  # connections accepted, whatever became of them
        self.dropped = 0  # closed at once by DROP
        self.resets = 0  # connections reset by CUT, cut() or cut_after_bytes
        self.bytes_up = 0
        self.bytes_down = 0

    # ------------------------------------------------------------------ control

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy is not started")
        return self._port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def active(self) -> int:
        """Connections currently open through the proxy."""
        return len(self._connections)

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        self._mode = Mode(mode)
        if self._mode is Mode.STALL:
            self._flowing.clear()
        else:
            self._flowing.set()
        if self._mode is Mode.CUT:
            self.cut()

    def cut(self) -> int:
        """Reset every open connection now; returns how many there were."""
        connections = list(self._connections)
        for connection in connections:
            self._reset(connection)
        return len(connections)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the proxy is already started")
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self.cut()
        handlers = list(self._handlers)
        if handlers:
            # A reset makes every handler return at once; cancelling is only for one stuck connecting.
            _, stuck = await asyncio.wait(handlers, timeout=5)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ forwarding

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(client_reader, client_writer)
        except asyncio.CancelledError:
            # Python 3.11's start_server calls task.exception() on its handler task, which raises
            # (and logs an error) for a cancelled one; a cancelled handler has nothing left to do.
            return
        finally:
            self._handlers.discard(task)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        connection = _Connection(client_writer)
        self._connections.add(connection)
        try:
            if self._mode is Mode.DROP:
                self.dropped += 1
                client_writer.close()
                return
            if self._mode is Mode.CUT:
                self._reset(connection)
                return
            try:
                server_reader, server_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                # The server is down: the client sees a reset, much as it would without the proxy.
                self._reset(connection)
                return
            connection.server = server_writer
            if connection.cut:  # reset while we were connecting
                _abort_with_rst(server_writer)
                return
            up = asyncio.create_task(self._pump(connection, client_reader, server_writer, upstream=True))
            down = asyncio.create_task(self._pump(connection, server_reader, client_writer, upstream=False))
            connection.tasks = [up, down]
            try:
                # A reset cancels the pumps; return_exceptions keeps that from cancelling this task.
                await asyncio.gather(up, down, return_exceptions=True)
            finally:
                up.cancel()
                down.cancel()
        finally:
            self._connections.discard(connection)
            self._close(connection)

    async def _pump(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    # Pass the orderly end of stream on, keeping the other direction open.
                    if writer.can_write_eof() and not writer.is_closing():
                        writer.write_eof()
                    return
                await self._flowing.wait()
                if connection.cut:
                    return
                limit = self.cut_after_bytes if upstream else self.cut_after_bytes_down
                sent = connection.bytes_up if upstream else connection.bytes_down
                if limit is not None and sent + len(data) >= limit:
                    allowed = max(0, limit - sent)
                    writer.write(data[:allowed])
                    await writer.drain()
                    self._count(connection, allowed, upstream)
                    self._reset(connection)
                    return
                writer.write(data)
                await writer.drain()
                self._count(connection, len(data), upstream)
        except (ConnectionError, OSError):
            # One side reset or vanished: the proxy passes that on as a reset of the other side.
            self._reset(connection)

    def _count(self, connection: _Connection, size: int, upstream: bool) -> None:
        if upstream:
            connection.bytes_up += size
            self.bytes_up += size
        else:
            connection.bytes_down += size
            self.bytes_down += size

    def _reset(self, connection: _Connection) -> None:
        if connection.cut:
            return
        connection.cut = True
        self.resets += 1
        for writer in (connection.client, connection.server):
            if writer is not None:
                _abort_with_rst(writer)
        for task in connection.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    @staticmethod
    def _close(connection: _Connection) -> None:
        for writer in (connection.client, connection.server):
            if writer is not None and not writer.is_closing():
                writer.close()


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and not writer.is_closing():
        # Linger on, timeout 0: close() sends RST instead of FIN and drops unsent data.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

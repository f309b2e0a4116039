"""The fault proxy itself, in front of a real echo server: each mode does what the fault tests rely on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from tests.fault_proxy import FaultProxy, Mode

QUIET_S = 0.3  # long enough that forwarded bytes would have arrived on loopback


@dataclass
class EchoServer:
    port: int = 0
    received: list[bytearray] = field(default_factory=list)  # per connection, in order
    ended: list[str] = field(default_factory=list)  # per connection: "eof" or "reset"


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    state = EchoServer()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received = bytearray()
        state.received.append(received)
        try:
            while data := await reader.read(65536):
                received += data
                writer.write(data)
                await writer.drain()
            state.ended.append("eof")
        except ConnectionError:
            state.ended.append("reset")
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", echo.port) as running:
        yield running


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), 5)


async def nothing_arrives(reader: asyncio.StreamReader) -> bool:
    try:
        await asyncio.wait_for(reader.read(1), QUIET_S)
    except TimeoutError:
        return True
    return False


async def until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_pass_forwards_both_ways_byte_for_byte(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    payload = bytes(range(256)) * 4096  # 1 MiB, larger than every buffer on the way
    assert await round_trip(reader, writer, payload) == payload
    assert proxy.active == 1 and proxy.bytes_up == proxy.bytes_down == len(payload)
    writer.close()
    await until(lambda: proxy.active == 0)
    assert echo.ended == ["eof"]


async def test_an_orderly_end_of_stream_is_passed_on_and_the_other_direction_stays_open(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"last words")
    writer.write_eof()
    # The echo server answers, sees the end of stream and closes; the client reads all, then EOF.
    assert await asyncio.wait_for(reader.read(), 5) == b"last words"
    writer.close()
    assert echo.ended == ["eof"]


async def test_drop_closes_new_connections_and_leaves_open_ones_alone(proxy: FaultProxy) -> None:
    old_reader, old_writer = await connect(proxy)
    assert await round_trip(old_reader, old_writer, b"before") == b"before"
    proxy.mode = Mode.DROP
    reader, writer = await connect(proxy)  # the OS accepts: this is a closing server, not a dead host
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert proxy.dropped == 1
    assert await round_trip(old_reader, old_writer, b"still here") == b"still here"
    proxy.mode = Mode.PASS
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"back") == b"back"
    for w in (writer, old_writer):
        w.close()


async def test_stall_holds_everything_with_the_sockets_open_and_delivers_it_after(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"a") == b"a"
    proxy.mode = Mode.STALL
    writer.write(b"held")
    await writer.drain()
    late_reader, late_writer = await connect(proxy)  # accepted while stalled, silent too
    late_writer.write(b"late")
    await late_writer.drain()
    assert await nothing_arrives(reader) and await nothing_arrives(late_reader)
    assert bytes(echo.received[0]) == b"a"  # the server got nothing either
    assert proxy.active == 2 and proxy.resets == 0

    proxy.mode = Mode.PASS
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
    assert await asyncio.wait_for(late_reader.readexactly(4), 5) == b"late"
    for w in (writer, late_writer):
        w.close()


async def test_cut_resets_every_connection_and_keeps_resetting_new_ones(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    connections = [await connect(proxy) for _ in range(3)]
    for reader, writer in connections:
        assert await round_trip(reader, writer, b"x") == b"x"
    proxy.mode = Mode.CUT
    for reader, _ in connections:
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), 5)
    await until(lambda: len(echo.ended) == 3)
    assert echo.ended == ["reset"] * 3  # the server side sees a reset too, not an orderly close

    reader, writer = await connect(proxy)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 5)
    assert proxy.resets == 4 and proxy.active == 0

    proxy.mode = Mode.PASS
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"healed") == b"healed"
    writer.close()
    for _, w in connections:
        w.close()


async def test_cut_once_resets_current_connections_and_lets_new_ones_through(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"x") == b"x"
    assert proxy.cut() == 1
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 5)
    assert proxy.mode is Mode.PASS
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"again") == b"again"
    writer.close()


async def test_cut_after_bytes_forwards_exactly_that_many_then_resets(echo: EchoServer) -> None:
    async with FaultProxy("127.0.0.1", echo.port, cut_after_bytes=50) as proxy:
        reader, writer = await connect(proxy)
        writer.write(bytes(range(100)))
        await writer.drain()
        received = bytearray()
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(5):
                while data := await reader.read(65536):
                    received += data
        await until(lambda: bool(echo.ended))
        assert bytes(echo.received[0]) == bytes(range(50))
        assert proxy.resets == 1 and proxy.bytes_up == 50
        # Per connection: the next one gets its own 50 bytes.
        reader, writer = await connect(proxy)
        assert await round_trip(reader, writer, b"short") == b"short"
        writer.close()


async def test_a_target_that_is_down_shows_as_a_reset(free_tcp_port: int) -> None:
    async with FaultProxy("127.0.0.1", free_tcp_port) as proxy:
        reader, writer = await connect(proxy)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), 5)
        writer.close()
        assert proxy.accepted == 1 and proxy.resets == 1


async def test_leaving_the_context_closes_the_listener_and_every_connection(echo: EchoServer) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        port = proxy.port
        reader, writer = await connect(proxy)
        assert await round_trip(reader, writer, b"x") == b"x"
        proxy.mode = Mode.STALL  # even a stalled connection is torn down
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 5)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()

"""The embedded uvicorn server on real sockets: bound here (port 0 gives the bound port before the
first request), HTTP or HTTPS, refused by name on a port already taken, the process's signal
handlers left to the command that owns them, and a stop that waits for uvicorn to end."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from pki.authority import Role, init_ca, issue
from web_serving.asgi_server import AsgiServer, HttpServerError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello " + scope["path"].encode()})


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    with urllib.request.urlopen(url, context=context, timeout=10) as page:
        return page.status, page.read().decode()


async def test_port_zero_gives_the_bound_port_and_stop_frees_it() -> None:
    server = AsgiServer(hello, "127.0.0.1", 0, what="test page")
    await server.start()
    try:
        assert server.port != 0 and server.scheme == "http"
        assert await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/a") == (200, "hello /a")
    finally:
        await server.stop()
    with socket.socket() as again:  # stopped means the port is free again (SO_REUSEADDR aside)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", server.port))
    await server.stop()  # a second stop is harmless


async def test_https_with_a_certificate_and_key(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", "web serving test CA")
    files = issue(tmp_path / "ca", Role.HUB, "hub-50", tmp_path / "hub")
    server = AsgiServer(hello, "127.0.0.1", 0, what="test page", tls=(files.cert_path, files.key_path))
    await server.start()
    try:
        assert server.scheme == "https"
        context = ssl.create_default_context(cafile=str(ca.cert_path))
        context.check_hostname = False  # the certificate names hub-50, not 127.0.0.1
        url = f"https://127.0.0.1:{server.port}/s"
        assert await asyncio.to_thread(fetch, url, context) == (200, "hello /s")
        with pytest.raises(OSError):  # and no plain HTTP on that port
            await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/s")
    finally:
        await server.stop()


async def test_a_port_in_use_is_refused_by_name_and_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = AsgiServer(hello, "127.0.0.1", port, what="test page")
        with pytest.raises(
            HttpServerError, match=f"test page: cannot listen on 127.0.0.1:{port}: "
        ) as caught:
            await server.start()
    assert (caught.value.what, caught.value.host, caught.value.port) == ("test page", "127.0.0.1", port)


async def test_the_signal_handlers_stay_the_owning_commands() -> None:
    def owners_handler(signum: int, frame: object) -> None:
        raise AssertionError("not called in this test")

    before = {sig: signal.signal(sig, owners_handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = AsgiServer(hello, "127.0.0.1", 0, what="test page")
    try:
        await server.start()
        await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/")
        assert signal.getsignal(signal.SIGINT) is owners_handler
        assert signal.getsignal(signal.SIGTERM) is owners_handler
        await server.stop()
        assert signal.getsignal(signal.SIGINT) is owners_handler
    finally:
        await server.stop()
        for sig, handler in before.items():
            signal.signal(sig, handler)


async def test_stop_waits_for_a_request_in_flight_then_ends_one_that_outlasts_the_grace() -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        arrived.set()
        await release.wait()
        await hello(scope, receive, send)

    server = AsgiServer(slow, "127.0.0.1", 0, what="test page", stop_grace_s=5)
    await server.start()
    answer = asyncio.create_task(asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/slow"))
    await arrived.wait()
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.3)
    assert not stopping.done()  # the request in flight holds the stop
    release.set()
    await stopping
    assert await answer == (200, "hello /slow")  # and it was answered, not cut off

    arrived.clear(), release.clear()
    hung = AsgiServer(slow, "127.0.0.1", 0, what="test page", stop_grace_s=1)
    await hung.start()
    cut_off = asyncio.create_task(asyncio.to_thread(fetch, f"http://127.0.0.1:{hung.port}/hung"))
    await arrived.wait()
    # Past the grace the request is cancelled and stop returns (it used to raise CancelledError:
    # wait_for cancels what it waits for on timeout, so the forced exit never ran).
    await asyncio.wait_for(hung.stop(), timeout=10)
    with pytest.raises(OSError):  # the connection was closed without an answer
        await cut_off
    assert not release.is_set()

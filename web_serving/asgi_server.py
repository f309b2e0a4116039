"""Serving an ASGI application (the hub's console, the station's PDA page) with uvicorn inside an
event loop that is already running: started on a socket bound here (so port 0 gives the port
actually bound at once), over HTTPS when given a certificate and key, stopped by asking uvicorn to
exit and waiting for it.

uvicorn's ``Server.serve`` takes over SIGINT and SIGTERM for a process of its own; in the hub and
the agent the process's signals belong to the command that runs it, so this subclass leaves them
alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from web_serving.errors import WebServingError

log = logging.getLogger(__name__)


class HttpServerError(WebServingError):
    """``what`` (the console, the PDA page) could not listen on, or start serving at, host:port."""

    def __init__(self, message: str, *, what: str, host: str, port: int) -> None:
        super().__init__(message)
        self.what = what
        self.host = host
        self.port = port


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AsgiServer:
    """``await start()`` binds and serves; ``port`` is the bound port; ``await stop()`` ends it.

    ``tls`` is the (certificate, key) pair of PEM files for HTTPS; without it, plain HTTP. ``what``
    names the server in its log line and its errors. ``stop`` gives requests in flight
    ``stop_grace_s`` seconds to finish, then uvicorn cancels them.
    """

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        what: str,
        tls: tuple[Path, Path] | None = None,
        stop_grace_s: int = 5,
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._what = what
        self._tls = tls
        self._stop_grace_s = stop_grace_s
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def scheme(self) -> str:
        return "https" if self._tls is not None else "http"

    async def start(self) -> None:
        """Serve; ``HttpServerError`` if the address cannot be bound or uvicorn does not start."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            raise HttpServerError(
                f"{self._what}: cannot listen on {self._host}:{self._port}: {error}",
                what=self._what,
                host=self._host,
                port=self._port,
            ) from error
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # past this, uvicorn cancels the requests still running (else a hung one holds stop forever)
            timeout_graceful_shutdown=self._stop_grace_s,
            ssl_certfile=str(self._tls[0]) if self._tls is not None else None,
            ssl_keyfile=str(self._tls[1]) if self._tls is not None else None,
        )
        server = _EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"{self._what} http server")
        # uvicorn says it is up by setting ``started``; a failed start ends the task instead.
        while not server.started:
            if self._task.done():
                await self._task
                self._server = self._task = None
                raise HttpServerError(
                    f"{self._what}: the HTTP server on {self._host}:{self.port} did not start",
                    what=self._what,
                    host=self._host,
                    port=self.port,
                )
            await asyncio.sleep(0.01)
        log.info("%s serving on %s://%s:%d/", self._what, self.scheme, self._host, self.port)

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait until it has: requests in flight get ``stop_grace_s``."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        # uvicorn itself cancels the requests still running after the grace; forcing the exit is
        # the backstop. asyncio.wait, not wait_for: wait_for would cancel serve() on timeout, and
        # the stop would end in CancelledError instead of the forced exit.
        _done, pending = await asyncio.wait({task}, timeout=self._stop_grace_s + 1.0)
        if pending:
            server.force_exit = True
        await task
        self._server = self._task = None

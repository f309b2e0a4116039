"""Serving an ASGI application (the console, or any other) with uvicorn inside an event loop that
is already running, beside the hub's gRPC server: started on a socket bound here (so port 0 gives
the port actually bound at once), stopped by asking uvicorn to exit and waiting for it.

uvicorn's ``Server.serve`` takes over SIGINT and SIGTERM for a process of its own; in the hub the
process's signals belong to the command that runs it, so this subclass leaves them alone.
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

from hub.errors import HubConfigError

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AsgiServer:
    """``await start()`` binds and serves; ``port`` is the bound port; ``await stop()`` ends it."""

    def __init__(
        self, app: Any, host: str, port: int, *, tls: tuple[Path, Path] | None = None, what: str = "console"
    ) -> None:
        self._app = app
        self._tls = tls  # (certificate, key) PEM files: HTTPS
        self._host = host
        self._port = port
        self._what = what
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def scheme(self) -> str:
        return "https" if self._tls is not None else "http"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            raise HubConfigError(
                f"{self._what}: cannot listen on {self._host}:{self._port}: {error}"
            ) from error
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
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
                raise HubConfigError(
                    f"{self._what}: the HTTP server on {self._host}:{self.port} did not start"
                )
            await asyncio.sleep(0.01)
        log.info("%s serving on %s://%s:%d/", self._what, self.scheme, self._host, self.port)

    async def stop(self) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=5.0)
        except TimeoutError:
            server.force_exit = True
            await task
        self._server = self._task = None

"""Serving an ASGI application (the PDA page) with uvicorn inside the agent's running event loop,
on a socket bound here (port 0 gives the bound port at once), over HTTPS when given a certificate.

uvicorn's ``Server.serve`` takes over SIGINT and SIGTERM for a process of its own; in the agent the
signals belong to the command that runs it, so this subclass leaves them alone. (The hub has the
same small runner for its console, ``hub.console.console_server``: the agent and the hub share no
code outside ``protos``, ``pki`` and ``inspection``.)
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

from station_agent.errors import StationAgentError

log = logging.getLogger(__name__)


class HttpServerError(StationAgentError):
    """The page's HTTP server could not listen or did not start: address and why."""


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AsgiServer:
    """``await start()`` binds and serves; ``port`` is the bound port; ``await stop()`` ends it."""

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        what: str = "PDA page",
    ) -> None:
        self._app = app
        self._host, self._port = host, port
        self._cert, self._key = cert, key
        self._what = what
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def scheme(self) -> str:
        return "https" if self._cert is not None else "http"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            raise HttpServerError(
                f"{self._what}: cannot listen on {self._host}:{self._port}: {error}"
            ) from error
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(self._cert) if self._cert is not None else None,
            ssl_keyfile=str(self._key) if self._key is not None else None,
        )
        server = _EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"{self._what} http server")
        while not server.started:
            if self._task.done():
                await self._task
                raise HttpServerError(
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

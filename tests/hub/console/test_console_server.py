"""The console served by the hub process: over HTTPS when given a certificate (its cookies then
Secure), and refused with a clear error on a port already taken."""

from __future__ import annotations

import asyncio
import socket
import ssl
import urllib.request
from pathlib import Path

import pytest

from hub.errors import HubConfigError
from hub.server import HubConfig, HubServer
from pki.authority import Role, init_ca, issue


async def test_the_console_serves_https_with_secure_cookies(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", "console test CA")
    files = issue(tmp_path / "ca", Role.HUB, "hub-50", tmp_path / "hub")
    config = HubConfig(
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        console_listen="127.0.0.1:0",
        console_tls=(files.cert_path, files.key_path),
    )
    async with HubServer(config) as hub:
        context = ssl.create_default_context(cafile=str(ca.cert_path))
        context.check_hostname = False  # the certificate names hub-50, not 127.0.0.1

        def fetch() -> tuple[int, str]:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{hub.console_port}/sign-in", context=context
            ) as page:
                return page.status, page.headers.get("Set-Cookie", "")

        status, cookie = await asyncio.to_thread(fetch)
    assert status == 200
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


async def test_a_console_port_in_use_is_refused_by_name(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = HubConfig(
            database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", console_listen=f"127.0.0.1:{port}"
        )
        with pytest.raises(HubConfigError, match=f"console: cannot listen on 127.0.0.1:{port}"):
            await HubServer(config).start()

"""Shared fixtures: database URLs (SQLite always, PostgreSQL when given), free ports, temp dirs."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL_VARIABLE = "TONGJIAN_TEST_DATABASE_URL"


@pytest.fixture
def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just handed out (for servers that cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and a private schema-free PostgreSQL database.

    The PostgreSQL variant creates its own database inside the server named by
    TONGJIAN_TEST_DATABASE_URL and drops it afterwards, so tests never see each other's rows.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base:
        pytest.skip(
            f"PostgreSQL variant: set {POSTGRES_URL_VARIABLE} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tongjian_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

"""Fixtures for the station agent's tests: an outbox (records and keys come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station_agent.outbox import OutboxStore


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[OutboxStore]:
    store = OutboxStore(tmp_path / "outbox.sqlite3", max_depth=10_000)
    yield store
    store.close()

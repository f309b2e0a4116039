"""An outbox path that cannot be an outbox is one clear error naming it, and touches nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from station_agent.outbox import OutboxStore, OutboxUnusable


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(OutboxUnusable, match=r"directory .*nowhere does not exist"):
        OutboxStore(tmp_path / "nowhere" / "outbox.sqlite3", 10)


def test_a_directory_is_not_an_outbox(tmp_path: Path) -> None:
    with pytest.raises(OutboxUnusable, match="is a directory"):
        OutboxStore(tmp_path, 10)


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("station 50-0001 lane notes\n" * 100)
    with pytest.raises(OutboxUnusable, match="not an outbox database"):
        OutboxStore(path, 10)
    assert path.read_text().startswith("station 50-0001")


def test_another_programs_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE records (id TEXT)")
    with pytest.raises(OutboxUnusable, match=r"without an outbox \(tables: records\)"):
        OutboxStore(path, 10)
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    assert tables == {"records"} and mode == "delete"


def test_an_existing_outbox_opens_again(tmp_path: Path) -> None:
    OutboxStore(tmp_path / "outbox.sqlite3", 10).close()
    with OutboxStore(tmp_path / "outbox.sqlite3", 10, create=False) as outbox:
        assert outbox.depth() == 0

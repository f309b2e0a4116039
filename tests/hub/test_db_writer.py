"""SQLite writers of one process queue on the hub's own lock and start as soon as the writer ahead
commits. SQLite's busy handler alone polls with sleeps growing to 100 ms: a commit waiting behind
a 200 ms transaction started about 20 ms after it ended (then most of the ingest Ack's p99)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hub.db import Database

HOLD_S = 0.21  # the busy handler's sleeps add up to 0.178 s, then 0.228 s: waking 18 ms late


def _lateness(database: Database) -> float:
    """Seconds between one writer's commit and the start of the writer waiting behind it."""
    holding = threading.Event()
    ended = started = 0.0

    def ahead() -> None:
        nonlocal ended
        with database.writer.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            holding.set()
            time.sleep(HOLD_S)
        ended = time.perf_counter()

    thread = threading.Thread(target=ahead)
    thread.start()
    holding.wait()
    with database.writer.begin() as connection:
        started = time.perf_counter()
        connection.exec_driver_sql("INSERT INTO t VALUES (2)")
    thread.join()
    return started - ended


def test_a_waiting_sqlite_writer_starts_when_the_one_ahead_commits(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        with database.writer.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        # The best of three: a loaded machine may wake a thread late once, not every time.
        assert min(_lateness(database) for _ in range(3)) < 0.010
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 6
    finally:
        database.dispose()

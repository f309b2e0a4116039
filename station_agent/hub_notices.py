"""Notices from the hub, kept at the station: e.g. a record the registry office rejected in
post-review after the owner had the result.

``NoticePoller`` asks the hub (``StationNotices.Fetch``) every ``interval_s`` for the notices after
the last one kept, logs each new one as a warning naming the record and the reason, and keeps it
in ``HubNoticeStore`` (a table in the outbox's SQLite file), so the operator sees it with
``tongjian agent notices`` even after a restart. A hub that cannot be reached only delays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

from protos.tongjian.v1 import ingest_pb2, ingest_pb2_grpc

log = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS hub_notices (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    received_at REAL NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class HubNotice:
    seq: int  # the hub's number for it
    kind: str
    record_id: str
    reason: str
    at: str  # ISO 8601, as the hub stamped it
    received_at: float  # when this station kept it (Unix time)


class HubNoticeStore:
    """The notices a station has received, in its outbox's SQLite file (one connection, a lock)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def last_seq(self) -> int:
        with self._lock:
            (seq,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM hub_notices").fetchone()
            return int(seq)

    def keep(self, notices: list[ingest_pb2.Notice]) -> list[HubNotice]:
        """Store the notices not kept before; returns those that are new."""
        now = time.time()
        kept: list[HubNotice] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for notice in notices:
                    at = notice.at.ToDatetime().isoformat() + "Z" if notice.HasField("at") else ""
                    row = (notice.seq, notice.kind, notice.record_id, notice.reason, at, now)
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO hub_notices VALUES (?, ?, ?, ?, ?, ?)", row
                    )
                    if cursor.rowcount:
                        kept.append(HubNotice(*row))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return kept

    def notices(self, limit: int = 100) -> list[HubNotice]:
        """Newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, record_id, reason, at, received_at FROM hub_notices ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [HubNotice(*row) for row in rows]

    def count(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM hub_notices").fetchone()
            return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class NoticePoller:
    def __init__(
        self,
        store: HubNoticeStore,
        target: str | Sequence[str],  # several: replicas, the next asked when one does not answer
        station_id: str,
        credentials: grpc.ChannelCredentials | None,
        interval_s: float = 30.0,
        on_new: Callable[[HubNotice], None] | None = None,
    ) -> None:
        self._store = store
        self._targets = (target,) if isinstance(target, str) else tuple(target)
        self._target = self._targets[0]
        self._station_id = station_id
        self._credentials = credentials
        self._interval_s = interval_s
        self._on_new = on_new
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub notices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def poll_once(self) -> list[HubNotice]:
        """Fetch and keep what is new; raises ``grpc.aio.AioRpcError`` when the hub cannot answer."""
        after = await asyncio.to_thread(self._store.last_seq)
        channel = (
            grpc.aio.secure_channel(self._target, self._credentials)
            if self._credentials is not None
            else grpc.aio.insecure_channel(self._target)
        )
        async with channel:
            reply = await ingest_pb2_grpc.StationNoticesStub(channel).Fetch(
                ingest_pb2.NoticesRequest(after_seq=after, station_id=self._station_id), timeout=10.0
            )
        kept = await asyncio.to_thread(self._store.keep, list(reply.notices))
        for notice in kept:
            log.warning(
                "hub notice %d: %s, record %s: %s",
                notice.seq,
                notice.kind,
                notice.record_id or "-",
                notice.reason,
            )
            if self._on_new is not None:
                self._on_new(notice)
        return kept

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except grpc.aio.AioRpcError as error:
                log.info(
                    "hub notices: hub %s did not answer (%s); asking again later",
                    self._target,
                    error.code().name,
                )
                # Notices are one table in the database the replicas share: any of them answers.
                self._target = self._targets[(self._targets.index(self._target) + 1) % len(self._targets)]
            await asyncio.sleep(self._interval_s)

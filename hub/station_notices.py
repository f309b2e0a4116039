"""Notices for stations: what the hub has to tell a station after its record was acknowledged.

A post-review rejection is the first kind: the station handed the owner a result, and the
registry office revoked it afterwards; the station's operator must see that, and keep it. A notice
is written in the same transaction as what it reports (``post_in``), and a station fetches the ones
after the last it kept (``StationNotices.Fetch``, ``hub.notice_service``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from hub.db import Database
from hub.models import StationNotice

RECORD_REJECTED = "record_rejected"
MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Notice:
    seq: int
    station_id: str
    kind: str
    record_id: str | None
    reason: str
    at: datetime


def post_in(
    connection: Connection, station_id: str, kind: str, record_id: str | None, reason: str, at: datetime
) -> None:
    """Write a notice inside the caller's transaction."""
    reason = reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"
    connection.execute(
        insert(StationNotice).values(
            station_id=station_id, kind=kind, record_id=record_id, reason=reason, at=at
        )
    )


class StationNoticeBook:
    def __init__(self, database: Database) -> None:
        self._database = database

    def post(self, station_id: str, kind: str, record_id: str | None, reason: str, at: datetime) -> None:
        with self._database.writer.begin() as connection:
            post_in(connection, station_id, kind, record_id, reason, at)

    def after(self, station_id: str, after_seq: int, limit: int = 100) -> list[Notice]:
        """The station's notices after ``after_seq``, oldest first."""
        query = (
            select(StationNotice)
            .where(StationNotice.station_id == station_id, StationNotice.seq > after_seq)
            .order_by(StationNotice.seq)
            .limit(limit)
        )
        with self._database.read() as session:
            return [
                Notice(row.seq, row.station_id, row.kind, row.record_id, row.reason, row.at)
                for row in session.scalars(query)
            ]

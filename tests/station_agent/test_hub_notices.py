"""Notices from the hub reach the station and stay there: a record rejected in post-review is
shown (log, metric, ``tongjian agent notices``) and kept across restarts, each notice once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.server import HubConfig, HubServer
from hub.station_notices import RECORD_REJECTED, StationNoticeBook
from station_agent.station import Station, StationSettings
from tongjian.cli import main


def _settings(tmp_path: Path, station_key: object, hub: HubServer) -> StationSettings:
    return StationSettings(
        station_id=station_key.station_id,  # type: ignore[attr-defined]
        signing_key=station_key.private_path,  # type: ignore[attr-defined]
        outbox_path=tmp_path / "outbox.sqlite3",
        hub_target=f"localhost:{hub.port}",
        insecure=True,
        notice_poll_s=0.1,
    )


async def _until(condition: object, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_post_review_rejection_reaches_the_station_and_is_kept_once(
    tmp_path: Path, station_key: object, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with HubServer(HubConfig(database_url=database_url)) as hub:
        hub.store.register_station("50-0001")
        hub.store.add_station_key("50-0001", station_key.public_path.read_bytes())  # type: ignore[attr-defined]
        book = StationNoticeBook(hub.store.database)
        book.post("50-0002", RECORD_REJECTED, "r-other", "another station's", datetime.now(UTC))
        async with Station(_settings(tmp_path, station_key, hub)) as station:
            book.post(
                "50-0001",
                RECORD_REJECTED,
                "r-1",
                "brake curves identical to another car's",
                datetime.now(UTC),
            )
            await _until(lambda: station.notices.count() == 1)
            assert station.metrics.registry.get_sample_value("tongjian_agent_hub_notices") == 1.0
            book.post("50-0001", RECORD_REJECTED, "r-2", "photo of another vehicle", datetime.now(UTC))
            await _until(lambda: station.notices.count() == 2)
        # A restart asks only for what is newer, and nothing is kept twice.
        async with Station(_settings(tmp_path, station_key, hub)) as station:
            await asyncio.sleep(0.5)
            kept = station.notices.notices()
            assert [(n.record_id, n.kind) for n in kept] == [
                ("r-2", RECORD_REJECTED),
                ("r-1", RECORD_REJECTED),
            ]
    capsys.readouterr()
    assert main(["agent", "notices", "--outbox", str(tmp_path / "outbox.sqlite3")]) == 0
    out = capsys.readouterr().out
    assert "brake curves identical to another car's" in out and "r-2" in out and "r-other" not in out

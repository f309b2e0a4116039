"""The assembled station: settings checks, and metrics that tell an operator the outbox is filling up."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest

from equipment.errors import DeviceTimeout, NakReply
from station_agent.station import Station, StationSettings


def settings(tmp_path: Path, station_key: object, **overrides: object) -> StationSettings:
    values: dict[str, object] = {
        "station_id": station_key.station_id,  # type: ignore[attr-defined]
        "signing_key": station_key.private_path,  # type: ignore[attr-defined]
        "outbox_path": tmp_path / "outbox.sqlite3",
        # Nothing listens here: the station must queue and report, not fail.
        "hub_target": "127.0.0.1:9",
        "insecure": True,
        "metrics_listen": "127.0.0.1:0",
        "uplink_backoff_max_s": 0.5,
    }
    values.update(overrides)
    return StationSettings(**values)  # type: ignore[arg-type]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics:\n{text}")


def test_plaintext_needs_the_explicit_flag(tmp_path: Path, station_key: object) -> None:
    with pytest.raises(ValueError, match="insecure"):
        settings(tmp_path, station_key, insecure=False)


async def test_metrics_show_the_backlog_while_the_hub_is_away(
    tmp_path: Path, station_key: object, make_record: object
) -> None:
    async with Station(settings(tmp_path, station_key)) as station:
        port = station.metrics.port
        assert port is not None
        for index in range(3):
            await station.agent.submit(make_record(index))  # type: ignore[operator]
        text = await asyncio.to_thread(scrape, port)
        assert sample(text, "tongjian_agent_outbox_depth") == 3
        assert sample(text, "tongjian_agent_outbox_oldest_age_seconds") >= 0
        assert sample(text, "tongjian_agent_outbox_limit") == 100_000
        assert sample(text, "tongjian_agent_hub_connected") == 0
        assert 'tongjian_agent_records_total{outcome="accepted"} 0.0' in text

        station.metrics.count_bench_error(NakReply("ega", "zero", "busy", code=4))
        station.metrics.count_bench_error(DeviceTimeout("rbt", "read 0x0010", "no answer in 0.5 s"))
        text = await asyncio.to_thread(scrape, port)
        assert 'tongjian_agent_bench_errors_total{code="4",device="ega"} 1.0' in text
        assert 'tongjian_agent_bench_errors_total{code="DeviceTimeout",device="rbt"} 1.0' in text
    # Records not delivered stay queued for the next start.
    async with Station(settings(tmp_path, station_key, metrics_listen=None)) as station:
        assert station.outbox.depth() == 3

"""What the agent's log tells an operator: connect, reconnect, delivery summaries, and shutdown."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.server import HubConfig, HubServer
from inspection import InspectionRecord
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink

RecordFactory = Callable[..., InspectionRecord]
ROOT = Path(__file__).resolve().parents[2]


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name.startswith("station_agent")]


async def test_the_uplink_logs_connect_reconnect_summaries_and_its_stop(
    tmp_path: Path, outbox: OutboxStore, signer: RecordSigner, station_key: object,
    make_record: RecordFactory, free_tcp_port: int, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)
    config = HubConfig(database_url=f"sqlite:///{tmp_path}/hub.sqlite3", listen=f"127.0.0.1:{free_tcp_port}")
    uplink = Uplink(
        outbox, config.listen, backoff_min_s=0.05, backoff_max_s=0.2, poll_interval_s=0.05, summary_every=10
    )
    for index in range(25):
        outbox.put(signer.seal(make_record(index)), str(make_record(index).record_id))
    async with HubServer(config) as hub:
        hub.store.register_station(signer.station_id)
        hub.store.add_station_key(signer.station_id, station_key.public_path.read_bytes())  # type: ignore[attr-defined]
        await uplink.start()
        assert await uplink.drain(timeout=20)
    async with HubServer(config):  # the hub restarts: the uplink says it reconnected
        outbox.put(signer.seal(make_record(99)), str(make_record(99).record_id))
        uplink.notify()
        assert await uplink.drain(timeout=20)
    await uplink.stop()
    log = messages(caplog)
    assert f"uplink connected to {config.listen}" in log
    assert any(line.startswith(f"uplink reconnected to {config.listen}") for line in log), log
    summaries = [line for line in log if "since the last summary" in line]
    assert summaries, log
    assert re.search(
        r"delivered \d\d, duplicate 0, rejected 0 since the last summary; \d+ pending", summaries[0]
    )
    assert any(line.startswith(f"uplink to {config.listen} stopped: 26 accepted") for line in log), log


async def test_agent_run_logs_a_shutdown_line(
    tmp_path: Path, station_key: object, free_tcp_port: int
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tongjian", "agent", "run", "--station-id", "50-0001",
        "--signing-key", str(station_key.private_path),  # type: ignore[attr-defined]
        "--outbox", str(tmp_path / "outbox.sqlite3"), "--hub", f"127.0.0.1:{free_tcp_port}", "--insecure",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    ready = await asyncio.wait_for(process.stdout.readline(), 60)
    assert ready.startswith(b"agent ready station=50-0001")
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    text = stderr.decode()
    assert "agent for station 50-0001 stopped: 0 accepted, 0 duplicate, 0 rejected this run" in text
    assert "pending stay in the outbox" in text
    assert "Traceback" not in text

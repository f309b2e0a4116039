"""No record lost, none twice: a real agent process, a real hub, and a link that misbehaves.

Each test queues 1,000 signed records in a station outbox, starts ``tongjian agent run`` as its
own process, and breaks something while the records stream: the connection (cut, stalled,
refused, through ``FaultProxy``), the agent (``kill -9``), or the hub (stopped and started again).
At the end the hub must hold every record exactly once, byte for byte as the station signed it,
and the outbox must be empty. Every test runs on SQLite and, when configured, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hub.server import HubConfig, HubServer
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from tests.fault_proxy import FaultProxy, Mode

pytestmark = pytest.mark.slow

RECORDS = 1000
ROOT = Path(__file__).resolve().parent.parent


def queue_records(path: Path, signer: RecordSigner, make_record: Callable[..., object]) -> dict[str, bytes]:
    """Fill an outbox the way the lanes do, one committed record at a time; returns id -> signed bytes."""
    expected: dict[str, bytes] = {}
    with OutboxStore(path, max_depth=RECORDS * 2) as outbox:
        for index in range(RECORDS):
            record = make_record(index)
            envelope = signer.seal(record)  # type: ignore[arg-type]
            outbox.put(envelope, str(record.record_id))  # type: ignore[attr-defined]
            expected[str(record.record_id)] = envelope.record  # type: ignore[attr-defined]
    return expected


class AgentProcess:
    """``tongjian agent run`` in its own process, plaintext to ``hub_port`` (mTLS has its own tests)."""

    def __init__(self, tmp_path: Path, signer_key: Path, outbox: Path, station_id: str) -> None:
        self._args = [
            sys.executable,
            "-m",
            "tongjian",
            "agent",
            "run",
            "--station-id",
            station_id,
            "--signing-key",
            str(signer_key),
            "--outbox",
            str(outbox),
            "--insecure",
            "--window",
            "32",
            "--reconnect-max-s",
            "0.5",
            "--ack-timeout-s",
            "2",
            "--log-level",
            "WARNING",
        ]
        self._log = tmp_path / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, hub_port: int) -> None:
        log = self._log.open("ab")
        self.process = subprocess.Popen(
            [*self._args, "--hub", f"127.0.0.1:{hub_port}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 30)
        assert line.startswith(b"agent ready"), (
            f"agent did not start: {line!r}; log:\n{self._log.read_text()}"
        )

    def kill(self, signum: int = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(signum)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill(signal.SIGTERM)


@pytest.fixture
async def agent(tmp_path: Path, station_key: object) -> AsyncIterator[AgentProcess]:
    process = AgentProcess(
        tmp_path,
        station_key.private_path,  # type: ignore[attr-defined]
        tmp_path / "outbox.sqlite3",
        station_key.station_id,  # type: ignore[attr-defined]
    )
    try:
        yield process
    finally:
        process.stop()


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def enrol(hub: HubServer, station_key: object) -> None:
    hub.store.register_station(station_key.station_id)  # type: ignore[attr-defined]
    hub.store.add_station_key(station_key.station_id, station_key.public_path.read_bytes())  # type: ignore[attr-defined]


def assert_exactly_once(hub: HubServer, expected: dict[str, bytes], outbox_path: Path) -> None:
    assert hub.store.count_records() == len(expected)
    for record_id, payload in expected.items():
        stored = hub.store.get_record(record_id)
        assert stored is not None, f"record {record_id} never reached the hub"
        assert stored.payload == payload, f"record {record_id} differs from what the station signed"
    with OutboxStore(outbox_path, max_depth=1) as outbox:
        assert outbox.depth() == 0
        assert outbox.rejected() == []


async def deliver_with(
    tmp_path: Path,
    database_url: str,
    station_key: object,
    signer: RecordSigner,
    make_record: Callable[..., object],
    agent: AgentProcess,
    trouble: Callable[[HubServer, FaultProxy, AgentProcess], Awaitable[HubServer]],
) -> None:
    outbox_path = tmp_path / "outbox.sqlite3"
    expected = queue_records(outbox_path, signer, make_record)
    config = HubConfig(database_url=database_url, group_commit_max=64)
    hub = HubServer(config)
    await hub.__aenter__()
    try:
        enrol(hub, station_key)
        async with FaultProxy("127.0.0.1", hub.port) as proxy:
            await agent.start(proxy.port)
            hub = await trouble(hub, proxy, agent)
            await wait_until(lambda: hub.store.count_records() >= RECORDS, 120, "every record at the hub")
            # The hub may hold a record whose Ack the agent has yet to read (e.g. a resend after the
            # restart, answered DUPLICATE): the outbox empties only then, so wait for the agent too.
            with OutboxStore(outbox_path, max_depth=1) as outbox:
                await wait_until(lambda: outbox.depth() == 0, 60, "the agent to empty its outbox")
        agent.stop()
        assert_exactly_once(hub, expected, outbox_path)
    finally:
        await hub.__aexit__(None, None, None)


async def test_cut_stalled_and_refused_connections_lose_and_duplicate_nothing(
    tmp_path: Path, database_url: str, station_key: object, signer: RecordSigner, make_record: Callable[..., object],
    agent: AgentProcess,
) -> None:  # fmt: skip
    async def trouble(hub: HubServer, proxy: FaultProxy, _agent: AgentProcess) -> HubServer:
        await wait_until(lambda: hub.store.count_records() >= 150, 60, "150 records")
        proxy.cut()  # mid-stream: records in flight lose their Acks
        await wait_until(lambda: hub.store.count_records() >= 350, 60, "350 records")
        proxy.mode = Mode.STALL  # the hub goes quiet but the sockets stay up: the agent's ack watchdog fires
        await asyncio.sleep(3)
        proxy.mode = Mode.DROP  # reconnects are refused for a while
        await asyncio.sleep(1.5)
        proxy.mode = Mode.PASS
        await wait_until(lambda: hub.store.count_records() >= 700, 60, "700 records")
        proxy.cut()
        return hub

    await deliver_with(tmp_path, database_url, station_key, signer, make_record, agent, trouble)


async def test_kill_9_of_the_agent_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, database_url: str, station_key: object, signer: RecordSigner, make_record: Callable[..., object],
    agent: AgentProcess,
) -> None:  # fmt: skip
    async def trouble(hub: HubServer, proxy: FaultProxy, agent: AgentProcess) -> HubServer:
        await wait_until(lambda: hub.store.count_records() >= 300, 60, "300 records")
        agent.kill(signal.SIGKILL)  # no chance to settle the Acks it already had
        stored_at_kill = hub.store.count_records()
        assert stored_at_kill < RECORDS, "the agent finished before it could be killed; queue more records"
        await agent.start(proxy.port)
        return hub

    await deliver_with(tmp_path, database_url, station_key, signer, make_record, agent, trouble)


async def test_a_hub_restart_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, database_url: str, station_key: object, signer: RecordSigner, make_record: Callable[..., object],
    agent: AgentProcess,
) -> None:  # fmt: skip
    async def trouble(hub: HubServer, proxy: FaultProxy, _agent: AgentProcess) -> HubServer:
        await wait_until(lambda: hub.store.count_records() >= 300, 60, "300 records")
        port = hub.port
        await hub.__aexit__(None, None, None)
        await asyncio.sleep(0.5)  # the agent sees the hub gone and backs off
        restarted = HubServer(
            HubConfig(database_url=database_url, listen=f"127.0.0.1:{port}", group_commit_max=64)
        )
        await restarted.__aenter__()
        return restarted

    await deliver_with(tmp_path, database_url, station_key, signer, make_record, agent, trouble)

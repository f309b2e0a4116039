"""Exactly once between province hubs when the hubs themselves die: ``kill -9`` of either hub.

Two ``tongjian hub serve`` processes (Sichuan 51 inspects, Chongqing 50 registers), each on its own
database, with a national trust list naming both. 1,000 records of Chongqing cars are submitted to
the Sichuan hub in bursts; between bursts the Chongqing hub, then the Sichuan hub, is killed with
SIGKILL and started again. At the end the Chongqing hub holds every record exactly once and the
Sichuan hub's outbox says every one was delivered. SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.store import HubStore
from hub.trust_list import NATIONAL_SIGNER, ProvinceHubEntry, build_trust_list
from inspection.vehicle_register_csv import RegisterRow
from pki.authority import init_ca
from protos.signed_document import sign_document
from protos.tongjian.v1 import ingest_pb2
from tests.federation_rig import Station, free_port
from tongjian.cli import main
from tongjian.commands.keys import write_key_pair

pytestmark = pytest.mark.slow

RECORDS = 1000
ROOT = Path(__file__).resolve().parents[2]
STATION = "51-0001"


def _pem_private(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _pem_public(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


class HubProcess:
    def __init__(
        self, province: str, url: str, port: int, hub_key: Path, national_key: Path, log: Path
    ) -> None:
        self.province, self.url, self.port = province, url, port
        self._args = [
            sys.executable, "-m", "tongjian", "hub", "serve", "--insecure",
            "--listen", f"127.0.0.1:{port}", "--database-url", url, "--province", province,
            "--hub-key", str(hub_key), "--national-key", str(national_key),
            "--forward-lease", "3",
        ]  # fmt: skip
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            self._args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log.open("ab"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 60)
        assert re.search(rb"port \d+", line), (
            f"hub {self.province} did not start: {line!r}\n{self._log.read_text()}"
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def hubs(databases: Any, tmp_path: Path) -> Iterator[tuple[HubProcess, HubProcess, Station]]:
    national = Ed25519PrivateKey.generate()
    national_pub = _pem_public(national, tmp_path / "national.pub.pem")
    keys = {province: Ed25519PrivateKey.generate() for province in ("50", "51")}
    urls = {province: databases.new(f"hub{province}") for province in ("50", "51")}
    ports = {province: free_port() for province in ("50", "51")}
    ca_pem = init_ca(tmp_path / "ca").cert_path.read_bytes()
    now = datetime.now(UTC)
    entries = [
        ProvinceHubEntry.create(p, p, f"127.0.0.1:{ports[p]}", f"hub-{p}.peer", ca_pem, keys[p].public_key())
        for p in ("50", "51")
    ]
    trust = sign_document(
        build_trust_list(1, entries, now - timedelta(minutes=1), now + timedelta(days=1)),
        NATIONAL_SIGNER,
        national,
    )
    private_path, public_path, key_id = write_key_pair(STATION, tmp_path / "station")
    for province, url in urls.items():
        assert main(["hub", "migrate", "--database-url", url]) == 0
        store = HubStore(url)
        try:
            store.trust_lists.install(trust, national.public_key(), now)
            if province == "51":
                store.register_station(STATION, province="51")
                store.add_station_key(STATION, public_path.read_bytes())
        finally:
            store.dispose()
    processes = {
        p: HubProcess(
            p,
            urls[p],
            ports[p],
            _pem_private(keys[p], tmp_path / f"hub{p}.key.pem"),
            national_pub,
            tmp_path / f"hub{p}.log",
        )
        for p in ("50", "51")
    }
    try:
        yield processes["51"], processes["50"], Station(STATION, key_id, private_path.read_bytes())
    finally:
        for process in processes.values():
            process.stop()


async def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(condition):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


async def test_kill_9_of_either_hub_loses_nothing_and_stores_nothing_twice(
    hubs: tuple[HubProcess, HubProcess, Station], make_record: Any, submit: Any
) -> None:
    sichuan, chongqing, station = hubs
    records = [make_record(index, station_id=STATION) for index in range(RECORDS)]
    register = HubStore(chongqing.url)
    inspecting = HubStore(sichuan.url)
    try:
        report = register.vehicles.import_rows(
            (RegisterRow(line, r.vehicle, f"owner-{line}") for line, r in enumerate(records, 2)), "50"
        )
        assert report.inserted == RECORDS
        await chongqing.start()
        await sichuan.start()

        async def send(chunk: list[Any]) -> None:
            outcome = await submit(sichuan.port, [station.seal(r) for r in chunk])
            assert outcome.error is None, outcome.error
            assert all(a.status == ingest_pb2.ACK_STATUS_ACCEPTED for a in outcome.acks)
            assert len(outcome.acks) == len(chunk)

        def arrived() -> int:
            return register.foreign_records.count()

        await send(records[:300])
        await _wait(lambda: arrived() > 0, 30, "first records at Chongqing")
        chongqing.kill()  # mid-delivery: some sent, some committed, some acked
        assert arrived() < RECORDS
        await send(records[300:600])  # the inspecting hub keeps taking records meanwhile
        await chongqing.start()
        await _wait(lambda: arrived() > 300, 60, "more than 300 at Chongqing")
        await send(records[600:])
        sichuan.kill()  # its outbox holds what it has not delivered, leased or not
        assert inspecting.outbox.counts().delivered < RECORDS  # killed with work outstanding
        await sichuan.start()
        await _wait(lambda: inspecting.outbox.counts().delivered == RECORDS, 120, "every record delivered")
        keys = register.foreign_records.keys()
        assert len(keys) == RECORDS == len(set(keys))
        assert set(keys) == {(STATION, str(r.record_id)) for r in records}
        assert inspecting.outbox.counts().parked == 0
        # Nothing arrived with other content under a known id.
        assert register.audit_events(kind="forward_rejected") == []
    finally:
        register.dispose()
        inspecting.dispose()

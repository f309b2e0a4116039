"""A real ``tongjian agent run`` whose benches are all missing at start: it starts, delivers its
outbox, serves the PDA (lane status says which bench is down; check-in is UNAVAILABLE naming it),
and inspects a vehicle once the benches are switched on, with no restart."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from hub.server import HubConfig, HubServer
from inspection import Fuel
from protos.record_mapping import vehicle_to_proto
from protos.tongjian.v1 import lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from tests.conftest import STATION_ID
from tests.station_agent.lane.bench_rig import PluggableLane
from tests.station_agent.lane.lane_rig import vehicle_with

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
INSPECTOR = "50-0001-07"


async def until(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    """Poll ``condition`` (state in another process or thread: nothing to await) until it holds."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


async def test_agent_runs_delivers_and_serves_with_every_bench_missing(
    tmp_path: Path, station_key: object, signer: RecordSigner, make_record: Callable[..., object]
) -> None:
    outbox_path = tmp_path / "outbox.sqlite3"
    with OutboxStore(outbox_path, max_depth=100) as outbox:
        for index in range(5):
            record = make_record(index)
            outbox.put(signer.seal(record), str(record.record_id))  # type: ignore[arg-type, attr-defined]

    benches = PluggableLane(
        number=1, profile="default", rtu=False, seed=1, present_at_start=False, station_id=STATION_ID
    )
    lane_file = await benches.start(tmp_path, pda_listen="127.0.0.1:0")
    credential = InspectorDirectory(tmp_path / "inspectors.sqlite3").issue(
        INSPECTOR,
        station_id=station_key.station_id,
        lanes=[1],  # type: ignore[attr-defined]
    )
    hub = HubServer(HubConfig(database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}"))
    await hub.__aenter__()
    log_path = tmp_path / "agent.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        hub.store.register_station(station_key.station_id)  # type: ignore[attr-defined]
        hub.store.add_station_key(station_key.station_id, station_key.public_path.read_bytes())  # type: ignore[attr-defined]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "tongjian", "agent", "run",
                    "--station-id", station_key.station_id,  # type: ignore[attr-defined]
                    "--signing-key", str(station_key.private_path),  # type: ignore[attr-defined]
                    "--outbox", str(outbox_path), "--insecure", "--hub", f"127.0.0.1:{hub.port}",
                    "--reconnect-max-s", "0.5", "--lane", str(lane_file),
                    "--metrics-listen", "127.0.0.1:0", "--log-level", "INFO",
                ],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        assert process.stdout is not None
        line = (await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)).decode()
        assert line.startswith("agent ready"), f"agent did not start: {line!r}\n{log_path.read_text()}"
        pda_port = int(re.search(r"pda_port=(\d+)", line).group(1))  # type: ignore[union-attr]
        metrics_port = int(re.search(r"metrics_port=(\d+)", line).group(1))  # type: ignore[union-attr]

        # The outbox drains although no bench is there.
        await until(lambda: hub.store.count_records() == 5)

        async with grpc.aio.insecure_channel(f"127.0.0.1:{pda_port}") as channel:
            stub = lane_pb2_grpc.LaneServiceStub(channel)
            token = (
                await stub.SignIn(lane_pb2.SignInRequest(inspector_id=INSPECTOR, credential=credential))
            ).session_token
            status = await stub.GetLaneStatus(lane_pb2.GetLaneStatusRequest(session_token=token, lane=1))
            assert [(b.name, b.up) for b in status.benches] == [
                ("rbt", False), ("hlt", False), ("ega", False), ("opm", False), ("obd", False)
            ]  # fmt: skip
            assert all(b.last_error for b in status.benches)
            vehicle = vehicle_with(Fuel.PETROL, 0)
            request = lane_pb2.CheckInRequest(session_token=token, lane=1, vehicle=vehicle_to_proto(vehicle))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CheckIn(request)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
            assert "bench rbt (roller brake tester, Modbus TCP" in (refused.value.details() or "")
            metrics = await asyncio.to_thread(scrape, metrics_port)
            assert 'tongjian_agent_bench_up{bench="rbt",lane="1"} 0.0' in metrics
            cli = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "tongjian", "pda", "status", "--server", f"127.0.0.1:{pda_port}",
                 "--lane", "1", "--token", token, "--insecure"],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert cli.returncode == 3, cli.stderr
            assert re.search(
                r"^rbt\tDOWN\tsince .*\troller brake tester, Modbus TCP .*\terror=", cli.stdout, re.M
            )

            await benches.bring_all()

            async def all_up() -> bool:
                reply = await stub.GetLaneStatus(lane_pb2.GetLaneStatusRequest(session_token=token, lane=1))
                return all(b.up for b in reply.benches)

            async with asyncio.timeout(30):
                while not await all_up():
                    await asyncio.sleep(0.05)
            benches.next_vehicle(vehicle, seed=0)
            record_id = (await stub.CheckIn(request)).record_id

            async def state() -> int:
                reply = await stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=token, lane=1))
                return next(v.state for v in reply.vehicles if v.record_id == record_id)

            async with asyncio.timeout(60):
                while (current := await state()) not in (
                    lane_pb2.LANE_STATE_VISUAL,
                    lane_pb2.LANE_STATE_ABORTED,
                ):
                    await asyncio.sleep(0.05)
            assert current == lane_pb2.LANE_STATE_VISUAL
            metrics = await asyncio.to_thread(scrape, metrics_port)
            assert 'tongjian_agent_bench_up{bench="rbt",lane="1"} 1.0' in metrics
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 30)
        await hub.__aexit__(None, None, None)
        await benches.stop()
    log_text = log_path.read_text()
    assert "lane 1: bench rbt (roller brake tester, Modbus TCP" in log_text
    assert "is not there at start" in log_text and "is up again" in log_text
    assert "Traceback" not in log_text

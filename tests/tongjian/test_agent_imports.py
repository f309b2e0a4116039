"""What a running station agent loads (issue 19: its idle footprint on a station PC).

The agent runs for months; every module it imports stays in its memory. A subprocess starts the
real thing the way ``tongjian agent run`` does - the command line's parser and settings checks,
then a ``Station`` with one lane of four benches (none of them answering, no hub listening) - and
lists what it loaded that only other paths need.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import StationKey

ROOT = Path(__file__).resolve().parents[2]

# Packages a station agent must never load: the hub's storage, web frameworks and the simulators.
_NEVER = ("sqlalchemy", "alembic", "hub", "simulators", "uvicorn", "starlette", "hypothesis", "matplotlib")
# Modules only some of the agent's paths need, each with the path that does.
_NOT_WHILE_RUNNING = {
    "rich": "tables of `agent outbox` / `agent notices`",
    "tongjian.console": "tables of `agent outbox` / `agent notices`",
    "pki.authority": "the development CA (`tongjian pki`); the agent only reads certificates",
    "station_agent.pda_service": "a lane file with [pda]",
    "station_agent.pda_web": "a lane file with [pda] web_listen",
    "web_serving": "a lane file with [pda]",
    "protos.tongjian.v1.lane_pb2": "a lane file with [pda]",
}

_PROBE = """
import asyncio, json, sys
from tongjian.cli import build_parser
from tongjian.commands.agent import settings_from_args
from station_agent.station import Station

args = build_parser(only="agent").parse_args(sys.argv[1:])
settings = settings_from_args(args)

async def start_and_stop() -> None:
    async with Station(settings) as station:
        assert len(station.lanes) == 1

asyncio.run(start_and_stop())
print(json.dumps(sorted(sys.modules)))
"""


def _lane_file(tmp_path: Path, station_id: str, rbt_port: int) -> Path:
    nowhere = tmp_path / "no-such-tty"
    path = tmp_path / "lane1.toml"
    path.write_text(
        f'station_id = "{station_id}"\nlane = 1\nlimit_set = "b"\n\n'
        f'[rbt]\ntransport = "tcp"\nhost = "127.0.0.1"\nport = {rbt_port}\nprofile = "rbt-f"\n\n'
        f'[hlt]\nserial_port = "{nowhere}0"\n\n[ega]\nserial_port = "{nowhere}1"\n\n'
        f'[opm]\nserial_port = "{nowhere}2"\n\n[obd]\nserial_port = "{nowhere}3"\n'
    )
    return path


def test_a_running_agent_without_a_pda_loads_only_what_it_runs(
    tmp_path: Path, station_key: StationKey, free_tcp_port: int
) -> None:
    nowhere = free_tcp_port  # nothing listens there: neither the hub nor the brake tester answers
    argv = [
        "agent", "run", "--station-id", station_key.station_id,
        "--signing-key", str(station_key.private_path), "--outbox", str(tmp_path / "outbox.sqlite3"),
        "--hub", f"127.0.0.1:{nowhere}", "--insecure",
        "--lane", str(_lane_file(tmp_path, station_key.station_id, nowhere)), "--log-level", "ERROR",
    ]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    # The probe really ran the lane: its bench drivers are loaded.
    assert {"equipment.rbt_driver", "equipment.hlt_driver", "equipment.obd_driver"} <= loaded
    never = sorted(m for m in loaded if m.split(".")[0] in _NEVER)
    assert never == [], f"the station agent loaded {never}"
    extra = {
        name: why
        for name, why in _NOT_WHILE_RUNNING.items()
        if name in loaded or any(m.startswith(name + ".") for m in loaded)
    }
    assert extra == {}, f"loaded while only these paths need them: {extra}"

"""Station agent footprint while idle: resident memory and CPU with one lane of four benches polled.

    .venv/bin/python benchmarks/agent_footprint.py [--seconds 20] [--settle 5]

The agent (``tongjian agent run``, its own process) serves one lane whose four benches - brake
tester on Modbus TCP, headlamp tester, gas analyser and opacity meter on pseudo-terminals - are
simulators in this process, and is connected to a hub (also in this process). Nothing is
inspected: the agent only keeps its bench links and hub stream alive. After ``--settle`` seconds
we read its RSS and CPU time from /proc for ``--seconds``.

Baseline, same run: a Python process that imports what the agent imports (its command, and the
bench drivers it imports when it opens the lane) and then sleeps - what the interpreter and the
libraries cost before the agent does anything. Goal (issue 19):
< 80 MB RSS and < 2 % of one core while idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.server import HubConfig, HubServer  # noqa: E402
from tongjian.commands.keys import write_key_pair  # noqa: E402
from tongjian.demo import STATION_ID, SimulatedLane  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")
# What `tongjian agent run` imports: the command (its parser, settings, Station) and, when it opens
# the lane (station_agent.lane_wiring.build_equipment, lane_config's link()/adapter()), the
# measured lane's bench drivers and links. tests/tongjian/test_agent_imports.py lists what it must not.
_IMPORTS_ONLY = (
    "import time, tongjian.cli, tongjian.commands.agent, station_agent.agent, station_agent.lane_wiring,"
    " equipment.modbus_link, equipment.serial_link, equipment.rbt_driver, equipment.rbt_profile,"
    " equipment.hlt_driver, equipment.ega_driver, equipment.opm_driver, equipment.obd_driver;"
    "print('ready', flush=True); time.sleep(3600)"
)


@dataclass(frozen=True)
class Footprint:
    name: str
    rss_mb: float
    private_mb: float  # of the RSS, what is the process's own (the rest: shared libraries' pages)
    cpu_pct: float  # of one core


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _private_mb(pid: int) -> float:
    kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kb += int(line.split()[1])
    return kb / 1024


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


async def _observe(name: str, process: subprocess.Popen[bytes], settle: float, seconds: float) -> Footprint:
    await asyncio.sleep(settle)
    if process.poll() is not None:
        raise SystemExit(f"{name} exited with {process.returncode} before it was measured")
    cpu0, t0 = _cpu_s(process.pid), time.monotonic()
    peak = private = 0.0
    end = t0 + seconds
    while time.monotonic() < end:
        peak = max(peak, _rss_mb(process.pid))
        private = max(private, _private_mb(process.pid))
        await asyncio.sleep(0.5)
    cpu = (_cpu_s(process.pid) - cpu0) / (time.monotonic() - t0) * 100
    return Footprint(name, peak, private, cpu)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def measure(seconds: float, settle: float) -> tuple[Footprint, Footprint]:
    """(baseline: imports only, the agent idle with four benches)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    baseline_process = subprocess.Popen(
        [sys.executable, "-c", _IMPORTS_ONLY], cwd=ROOT, stdout=subprocess.PIPE, env=env
    )
    try:
        assert baseline_process.stdout is not None
        await asyncio.get_running_loop().run_in_executor(None, baseline_process.stdout.readline)
        baseline = await _observe(
            "baseline: Python + the agent's imports, sleeping", baseline_process, 1.0, seconds
        )
    finally:
        _stop(baseline_process)
    with tempfile.TemporaryDirectory(prefix="tongjian-footprint-") as tmp:
        workdir = Path(tmp)
        private, public, _key_id = write_key_pair(STATION_ID, workdir / "keys")
        lane = SimulatedLane(1, "rbt-f", rtu=False, seed=7)
        async with HubServer(HubConfig(database_url=f"sqlite:///{workdir / 'hub.sqlite3'}")) as hub:
            hub.store.register_station(STATION_ID)
            hub.store.add_station_key(STATION_ID, public.read_bytes())
            lane_path = await lane.start(workdir, pda_listen=None)
            try:
                agent = subprocess.Popen(
                    [
                        sys.executable, "-m", "tongjian", "agent", "run", "--station-id", STATION_ID,
                        "--signing-key", str(private), "--outbox", str(workdir / "outbox.sqlite3"),
                        "--hub", f"127.0.0.1:{hub.port}", "--insecure", "--lane", str(lane_path),
                        "--log-level", "WARNING",
                    ],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(workdir / "agent.log").open("wb"),
                )  # fmt: skip
                try:
                    agent_figure = await _observe(
                        "agent idle, one lane of four benches", agent, settle, seconds
                    )
                finally:
                    _stop(agent)
            finally:
                await lane.stop()
    return baseline, agent_figure


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to measure (default 20)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after start before measuring")
    args = parser.parse_args()
    baseline, agent = asyncio.run(measure(args.seconds, args.settle))
    for figure in (baseline, agent):
        print(
            f"{figure.name:<52} RSS {figure.rss_mb:6.1f} MB (private {figure.private_mb:5.1f} MB)  "
            f"CPU {figure.cpu_pct:5.2f} %"
        )
    print(f"agent / baseline RSS: {agent.rss_mb / baseline.rss_mb:.2f}")
    print(
        f"goal RSS < 80 MB: {'met' if agent.rss_mb < 80 else 'MISSED'}; CPU < 2 %: {'met' if agent.cpu_pct < 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

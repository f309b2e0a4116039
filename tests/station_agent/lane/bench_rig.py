"""A lane whose benches can go away and come back: serial benches behind stable symlinks (as udev
names a USB adapter), the brake tester on a fixed port or symlink it can restart on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from inspection import InspectionRecord
from simulators.ega_sim import GasAnalyserSimulator
from simulators.hlt_sim import HeadlightTesterSimulator
from simulators.obd_sim import ObdSimulator
from simulators.opm_sim import OpacityMeterSimulator
from simulators.rbt_server import RbtSimulator
from station_agent.bench_supervisor import BenchId, BenchStatus
from station_agent.lane import Lane
from station_agent.lane_config import load_lane_config
from station_agent.lane_wiring import open_lane
from tests.conftest import STATION_ID
from tongjian.demo import TIME_SCALE, SimulatedLane

# The benches of a lane without a chassis dynamometer (these rigs have none).
FOUR_BENCHES = (BenchId.RBT, BenchId.HLT, BenchId.EGA, BenchId.OPM)
# Every bench of the rig's lane: the four and the OBD scan tool (it has no dynamometer).
RIG_BENCHES = (*FOUR_BENCHES, BenchId.OBD)
# Fast reconnection for tests: first retry after 20 ms, at most 200 ms apart.
BENCHES_TABLE = (
    "[benches]\nreconnect_initial_s = 0.02\nreconnect_max_s = 0.2\nprobe_interval_s = 0.1\nwait_s = 30\n"
)


@dataclass
class PluggableLane(SimulatedLane):
    """``SimulatedLane`` whose every bench can be unplugged / restarted and brought back."""

    workdir: Path = Path(".")
    rbt_port: int = 0
    present_at_start: bool = True

    def _link(self, bench: str) -> Path:
        return self.workdir / f"lane{self.number}-{bench}"

    async def start(self, workdir: Path, pda_listen: str | None = None) -> Path:
        self.workdir = workdir
        self.rbt = RbtSimulator(profile=self.profile, time_scale=TIME_SCALE)
        self.hlt = HeadlightTesterSimulator(seed=self.seed, time_scale=TIME_SCALE)
        self.ega = GasAnalyserSimulator(seed=self.seed, time_scale=TIME_SCALE)
        self.opm = OpacityMeterSimulator(seed=self.seed, time_scale=TIME_SCALE)
        self.obd = ObdSimulator(seed=self.seed)
        if self.rtu:
            rbt_table = f'transport = "rtu"\nserial_port = "{self._link("rbt")}"\n'
        else:
            if self.present_at_start:
                self.rbt_port = await self.rbt.start_tcp()
            else:
                import socket

                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    self.rbt_port = sock.getsockname()[1]
            rbt_table = f'transport = "tcp"\nhost = "127.0.0.1"\nport = {self.rbt_port}\n'
        if self.present_at_start:
            await self._start_serial_and_rtu()
        pda = ""
        if pda_listen is not None:
            pda = (
                f'[pda]\nlisten = "{pda_listen}"\ndirectory = "inspectors.sqlite3"\nphoto_dir = "photos"\n'
                "insecure = true\n"  # a test bench: PDA TLS has its own tests
            )
        text = (
            f'station_id = "{self.station_id}"\nlane = {self.number}\nlimit_set = "b"\n\n'
            f'[rbt]\n{rbt_table}profile = "{self.profile}"\ntimeout_s = 1.0\n\n'
            f'[hlt]\nserial_port = "{self._link("hlt")}"\n\n'
            f'[ega]\nserial_port = "{self._link("ega")}"\n\n'
            f'[opm]\nserial_port = "{self._link("opm")}"\n\n'
            f'[obd]\nserial_port = "{self._link("obd")}"\nprotocol = "6"\ntimeout_s = 0.5\n\n'
            f"[procedures]\ntime_scale = {TIME_SCALE}\n\n{BENCHES_TABLE}\n{pda}"
        )
        self.config_path = workdir / f"lane{self.number}.toml"
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path

    async def _start_serial_and_rtu(self) -> None:
        if self.rtu:
            await self.rbt.start_rtu(link_path=self._link("rbt"))
        for bench in ("hlt", "ega", "opm", "obd"):
            getattr(self, bench).start(link_path=self._link(bench))

    async def bring_all(self) -> None:
        """Benches that were absent at start are switched on."""
        if not self.rtu:
            await self.rbt.start_tcp(port=self.rbt_port)
        await self._start_serial_and_rtu()

    async def drop(self, bench: BenchId) -> None:
        """The bench goes away: the brake tester's server stops, a serial adapter is pulled."""
        if bench is BenchId.RBT:
            await self.rbt.stop()
        else:
            getattr(self, bench.value).unplug()

    async def restore(self, bench: BenchId) -> None:
        if bench is BenchId.RBT:
            if self.rtu:
                await self.rbt.start_rtu(link_path=self._link("rbt"))
            else:
                await self.rbt.start_tcp(port=self.rbt_port)
        else:
            getattr(self, bench.value).replug()


@dataclass
class SupervisedLane:
    lane: Lane
    benches: PluggableLane
    completed: list[InspectionRecord] = field(default_factory=list)
    changes: list[BenchStatus] = field(default_factory=list)


@asynccontextmanager
async def supervised_lane(
    tmp_path: Path, *, rtu: bool = False, profile: str = "default", present_at_start: bool = True
) -> AsyncIterator[SupervisedLane]:
    benches = PluggableLane(
        number=1, profile=profile, rtu=rtu, seed=1, present_at_start=present_at_start, station_id=STATION_ID
    )
    config_path = await benches.start(tmp_path)
    try:
        completed: list[InspectionRecord] = []
        changes: list[BenchStatus] = []

        async def on_complete(record: InspectionRecord) -> None:
            completed.append(record)

        async with open_lane(
            load_lane_config(config_path), on_complete, on_bench_change=changes.append
        ) as lane:
            yield SupervisedLane(lane, benches, completed, changes)
    finally:
        await benches.stop()

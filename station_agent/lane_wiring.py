"""A lane built from its lane file: links and drivers for its benches (four, and the chassis
dynamometer where the file has ``[dyn]``), their supervisor, the ``Lane``.

``open_lane`` is the one place that turns a ``LaneConfig`` into running objects; the lane runner
(``station_agent.lane``) and its state machine (``station_agent.lane_state``) never read a lane
file. The equipment modules are imported inside ``build_equipment`` so that the lane's state
machine and runner stay importable (and testable) without pyserial or pymodbus installed, e.g. on
a hub-only host.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from equipment.errors import EquipmentError
from inspection.verdicts import judge as judge_by_the_rules
from station_agent.bench_supervisor import (
    BenchId,
    BenchSupervisor,
    OnChange,
    SupervisedBench,
    SupervisionPolicy,
)
from station_agent.clock import ScaledClock
from station_agent.lane import Judge, Lane, OnComplete, default_judge
from station_agent.lane_config import LaneConfig, TcpTransport, load_limit_sets

if TYPE_CHECKING:
    from equipment.dyn_driver import ChassisDynamometer
    from equipment.ega_driver import GasAnalyser
    from equipment.hlt_driver import HeadlightTester
    from equipment.modbus_link import ModbusLink
    from equipment.obd_driver import ObdAdapter
    from equipment.opm_driver import OpacityMeter
    from equipment.rbt_driver import RollerBrakeTester
    from equipment.serial_link import SerialLink


@dataclass(frozen=True, slots=True)
class LaneEquipment:
    """The links and drivers ``open_lane`` built from the lane file (what each setting configured)."""

    rbt_link: ModbusLink
    rbt: RollerBrakeTester
    hlt_link: SerialLink
    hlt: HeadlightTester
    ega_link: SerialLink
    ega: GasAnalyser
    opm_link: SerialLink
    opm: OpacityMeter
    obd: ObdAdapter | None = None  # the lane file's optional [obd] scan tool
    dyn_link: ModbusLink | None = None  # the chassis dynamometer, where the lane file has [dyn]
    dyn: ChassisDynamometer | None = None

    def close(self) -> None:
        self.rbt_link.close()
        if self.dyn_link is not None:
            self.dyn_link.close()
        for link in (self.hlt_link, self.ega_link, self.opm_link):
            link.close()
        if self.obd is not None:
            self.obd.close()


def build_equipment(config: LaneConfig) -> LaneEquipment:
    """Links and drivers for the four benches in ``config``, none of them connected yet."""
    # Imported here: see the module docstring.
    from equipment.ega_driver import GasAnalyser
    from equipment.hlt_driver import HeadlightTester
    from equipment.opm_driver import OpacityMeter
    from equipment.rbt_driver import RbtTimings, RollerBrakeTester
    from equipment.rbt_profile import load_profile

    dyn_link = dyn = None
    if config.dyn is not None:
        from equipment.dyn_driver import ChassisDynamometer, DynTimings
        from equipment.dyn_profile import load_dyn_profile

        dyn_link = config.dyn.link()
        dyn = ChassisDynamometer(
            dyn_link, load_dyn_profile(config.dyn.profile), DynTimings(**dict(config.dyn.timings))
        )
    rbt = config.rbt
    rbt_link = rbt.link()
    hlt_link, ega_link, opm_link = config.hlt.link(), config.ega.link(), config.opm.link()
    return LaneEquipment(
        rbt_link=rbt_link,
        rbt=RollerBrakeTester(rbt_link, load_profile(rbt.profile), RbtTimings(**dict(rbt.timings))),
        hlt_link=hlt_link,
        hlt=HeadlightTester(hlt_link),
        ega_link=ega_link,
        ega=GasAnalyser(ega_link),
        opm_link=opm_link,
        opm=OpacityMeter(opm_link),
        obd=None if config.obd is None else config.obd.adapter(),
        dyn_link=dyn_link,
        dyn=dyn,
    )


def supervised_benches(config: LaneConfig, equipment: LaneEquipment) -> list[SupervisedBench]:
    """What the supervisor watches: each bench's description and a STATUS request as its probe."""
    rbt = config.rbt.transport
    rbt_where = (
        f"Modbus TCP {rbt.host}:{rbt.port}"
        if isinstance(rbt, TcpTransport)
        else f"Modbus RTU {rbt.serial_port}"
    )
    benches = [
        SupervisedBench(BenchId.RBT, f"roller brake tester, {rbt_where}", equipment.rbt.read_status),
        SupervisedBench(BenchId.HLT, f"headlight tester, {config.hlt.serial_port}", equipment.hlt.status),
        SupervisedBench(BenchId.EGA, f"exhaust gas analyser, {config.ega.serial_port}", equipment.ega.status),
        SupervisedBench(BenchId.OPM, f"opacity meter, {config.opm.serial_port}", equipment.opm.status),
        *(
            [SupervisedBench(BenchId.OBD, f"OBD scan tool, {config.obd.serial_port}", equipment.obd.probe)]
            if config.obd is not None and equipment.obd is not None
            else []
        ),
    ]
    if config.dyn is not None and equipment.dyn is not None:
        where = f"Modbus TCP {config.dyn.host}:{config.dyn.port}"
        benches.append(
            SupervisedBench(BenchId.DYN, f"chassis dynamometer, {where}", equipment.dyn.read_status)
        )
    return benches


@asynccontextmanager
async def open_lane(
    config: LaneConfig,
    on_complete: OnComplete,
    *,
    judge: Judge = default_judge,
    display: Callable[[str], None] | None = None,
    on_bench_error: Callable[[EquipmentError], None] | None = None,
    on_bench_change: OnChange | None = None,
    open_visit_ttl: timedelta = timedelta(hours=24),
) -> AsyncIterator[Lane]:
    """A ``Lane`` over the four benches named in ``config``; closes all on exit.

    A bench that is not there yet does not stop the lane from opening: it is logged, reported down
    (``lane.bench_statuses()``, ``on_bench_change``), and picked up when it answers.
    """
    equipment = build_equipment(config)
    clock = ScaledClock(config.procedures.time_scale)
    schedule = None if config.limit_sets is None else load_limit_sets(config.limit_sets)
    if schedule is not None and judge is default_judge:
        # The hub judges with the same schedule (``tongjian hub serve --limit-sets``).
        judge = functools.partial(judge_by_the_rules, limit_sets=schedule)
    b = config.benches
    supervisor = BenchSupervisor(
        config.lane,
        supervised_benches(config, equipment),
        SupervisionPolicy(
            reconnect_initial_s=b.reconnect_initial_s,
            reconnect_max_s=b.reconnect_max_s,
            probe_interval_s=b.probe_interval_s,
        ),
        now=clock.now,
        on_change=on_bench_change,
    )
    lane = Lane(
        config,
        brake=equipment.rbt,
        headlight=equipment.hlt,
        gas=equipment.ega,
        opacity=equipment.opm,
        on_complete=on_complete,
        clock=clock,
        judge=judge,
        display=display,
        on_bench_error=on_bench_error,
        open_visit_ttl=open_visit_ttl,
        benches=supervisor,
        obd=equipment.obd,
        limit_sets=schedule,
        dynamometer=equipment.dyn,
    )
    lane.equipment = equipment
    async with AsyncExitStack() as stack:
        stack.callback(equipment.close)
        stack.push_async_callback(supervisor.close)
        await supervisor.start()
        try:
            yield lane
        finally:
            await lane.close()

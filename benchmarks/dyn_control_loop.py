"""Chassis dynamometer control loop and lane time per vehicle, against the simulators.

    python benchmarks/dyn_control_loop.py [--runs 2] [--time-scale 1.0]

(a) ASM runs at time scale 1 (real time; about a minute a run): for each run, the seconds from each
    load setpoint to MODE_ACTIVE as the driver polls it over Modbus TCP on loopback, the phase
    restarts, and speed-window violations: the kept seconds outside the window, and the time the
    rollers really spent outside it during the load modes (sampled from the simulator's model at
    10 Hz). Run 1 has the default simulated driver; run 2 a slower, twitchier one (lag 0.9 s).
(b) Lane time per vehicle per method: one visit each of a petrol car and a diesel on a lane with a
    dynamometer (ASM, lug-down) and on one without (two-speed idle, free acceleration), check-in to
    the benches being done, at the demo's time scale (0.01) and reported in procedure seconds.
Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from equipment.dyn_driver import ChassisDynamometer, DynTimings
from equipment.dyn_profile import load_dyn_profile
from equipment.ega_driver import GasAnalyser
from equipment.modbus_link import ModbusTcpLink
from equipment.serial_link import SerialConfig, SerialLink
from inspection import Fuel, InspectionRecord, LimitSet
from inspection.verdicts.loaded_emission_rules import asm_speed_window
from simulators.dyn_sim import DynSimulator
from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.fleet import generate_fleet
from simulators.vehicle_on_rollers import RollerModel, VehicleModel
from station_agent.clock import ScaledClock
from station_agent.lane import LaneState
from station_agent.lane_config import AsmTimings, load_lane_config
from station_agent.lane_wiring import open_lane
from station_agent.procedures.asm import AsmStats, run_asm
from tongjian.demo import TIME_SCALE, SimulatedLane


@dataclass
class RunFigures:
    label: str
    latencies_s: list[float]
    restarts: int
    kept_outside: int
    kept: int
    excursions: int
    outside_s: float
    elapsed_s: float
    fast_pass: list[bool] = field(default_factory=list)


async def asm_run(label: str, vehicle: VehicleModel, scale: float) -> RunFigures:
    model = RollerModel(vehicle=vehicle, time_scale=scale)
    dyn_sim = DynSimulator(model, time_scale=scale)
    port = await dyn_sim.start_tcp()
    ega_sim = GasAnalyserSimulator(
        EgaScenario.two_speed_idle(warm_up_s=0, zero_s=1), time_scale=scale, engine=model
    )
    link = SerialLink(SerialConfig(port=ega_sim.start(), response_timeout_s=1.0))
    dyn = ChassisDynamometer(
        ModbusTcpLink("127.0.0.1", port, device="dyn"),
        load_dyn_profile("dyn-default"),
        DynTimings(poll_s=0.01),
    )
    stats = AsmStats()
    started = time.monotonic()
    car = next(v for v in generate_fleet(40, seed=7) if v.fuel is Fuel.PETROL)
    try:
        async with dyn:
            run = await run_asm(
                dyn, GasAnalyser(link, zero_timeout_s=5, zero_poll_s=0.05), car, limit_set=LimitSet.B,
                timings=AsmTimings(), clock=ScaledClock(scale), stats=stats,
            )  # fmt: skip
    finally:
        link.close()
        ega_sim.stop()
        await dyn_sim.stop()
    kept = [s for p in run.phases for s in p.seconds]
    outside_kept = 0
    for phase in run.phases:
        low, high = asm_speed_window(phase.mode)
        outside_kept += sum(not low <= s.speed_kmh <= high for s in phase.seconds)
    return RunFigures(
        label, stats.mode_latencies_s, sum(stats.restarts.values()), outside_kept, len(kept), stats.excursions,
        stats.outside_s,
        time.monotonic() - started, [p.fast_pass for p in run.phases],
    )  # fmt: skip


async def _nothing(record: InspectionRecord) -> None:
    """The benchmark aborts its visits: nothing is ever completed."""


async def lane_times() -> dict[str, float]:
    """Procedure seconds from check-in to the benches being done, per emission method."""
    scale = TIME_SCALE
    fleet = generate_fleet(80, seed=7)
    petrol = next(v for v in fleet if v.fuel is Fuel.PETROL)
    diesel = next(v for v in fleet if v.fuel is Fuel.DIESEL)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for with_dyn, methods in (
            (True, ("ASM", "lug-down")),
            (False, ("two-speed idle", "free acceleration")),
        ):
            benches = SimulatedLane(1, "default", False, seed=1, with_dyn=with_dyn)
            lane_dir = Path(workdir) / ("dyn" if with_dyn else "plain")
            lane_dir.mkdir()
            path = await benches.start(lane_dir, pda_listen=None)
            try:
                async with open_lane(load_lane_config(path), _nothing) as lane:
                    for method, vehicle in zip(methods, (petrol, diesel), strict=True):
                        benches.next_vehicle(vehicle, seed=1)
                        started = time.monotonic()
                        record_id = await lane.check_in(vehicle)
                        view = await lane.wait_for(record_id, LaneState.VISUAL)
                        if view.state is not LaneState.VISUAL:
                            raise RuntimeError(f"{method}: {view.error}")
                        out[method] = (time.monotonic() - started) / scale
                        await lane.abort(record_id, "benchmark: benches timed", by="benchmark")
            finally:
                await benches.stop()
    return out


async def main(args: argparse.Namespace) -> None:
    print(f"(a) ASM control loop, time scale {args.time_scale:g} (real seconds per simulated second)")
    drivers = [
        ("default driver", VehicleModel.petrol_car()),
        ("slow driver (lag 0.9 s)", VehicleModel.petrol_car(driver_lag_s=0.9)),
    ]
    for label, vehicle in drivers[: args.runs]:
        figures = await asm_run(label, vehicle, args.time_scale)
        lat = figures.latencies_s
        print(
            f"  {figures.label}: setpoint -> MODE_ACTIVE {', '.join(f'{x * 1000:.0f}' for x in lat)} ms "
            f"(median {statistics.median(lat) * 1000:.0f} ms); restarts {figures.restarts}; kept seconds outside "
            f"the window {figures.kept_outside}/{figures.kept}; while settling and measuring the rollers left the "
            f"window {figures.excursions}x, {figures.outside_s:.1f} s in all; fast pass {figures.fast_pass}; run {figures.elapsed_s:.0f} s"
        )
    print(f"(b) lane time per vehicle (check-in to benches done), procedure seconds, at scale {TIME_SCALE:g}")
    for method, seconds in (await lane_times()).items():
        print(f"  {method}: {seconds:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, choices=(1, 2))
    parser.add_argument("--time-scale", type=float, default=1.0)
    asyncio.run(main(parser.parse_args()))

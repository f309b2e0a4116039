"""Fixtures: the brake tester simulator on a real pymodbus server (TCP, or RTU on a pty) and a driver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

import pytest

from equipment.modbus_link import ModbusLink, ModbusRtuLink, ModbusTcpLink
from equipment.rbt_driver import RbtTimings, RollerBrakeTester
from equipment.rbt_profile import load_profile
from simulators.brake_scenario import AxleScenario, BrakeScenario, RollerRunScenario
from simulators.rbt_bench import BenchFault
from simulators.rbt_server import RbtSimulator

# The simulator runs 500x faster than real time: a whole axle takes a few tens of milliseconds.
TIME_SCALE = 0.002
FAST = RbtTimings(axle_s=2.0, weigh_s=1.0, test_s=2.0, reset_s=1.0, poll_s=0.002)


def one_axle(samples: int = 250, *, parking: bool = False) -> BrakeScenario:
    run = RollerRunScenario(312.0, 298.0, 9.0, 11.0, rise_s=1.0, sample_count=samples)
    park = RollerRunScenario(150.0, 140.0, 9.0, 11.0, sample_count=min(samples, 120)) if parking else None
    return BrakeScenario((AxleScenario(402.0, 397.0, run, park),))


@dataclass
class Rig:
    simulator: RbtSimulator
    link: ModbusLink
    tester: RollerBrakeTester


StartRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def start_rig() -> AsyncIterator[StartRig]:
    """``await start_rig(scenario, profile=, rtu=, faults=, timeout=, retries=)``: simulator + open driver."""
    started: list[Rig] = []

    async def _start(
        scenario: BrakeScenario | None = None,
        *,
        profile: str = "default",
        rtu: bool = False,
        faults: Iterable[BenchFault] = (),
        timeout: float = 0.2,
        retries: int = 3,
        timings: RbtTimings = FAST,
    ) -> Rig:
        simulator = RbtSimulator(
            scenario or one_axle(), profile=profile, faults=faults, time_scale=TIME_SCALE
        )
        link: ModbusLink
        if rtu:
            link = ModbusRtuLink(
                await simulator.start_rtu(), timeout=timeout, retries=retries, busy_wait=0.005
            )
        else:
            port = await simulator.start_tcp()
            link = ModbusTcpLink("127.0.0.1", port, timeout=timeout, retries=retries, busy_wait=0.005)
        tester = RollerBrakeTester(link, load_profile(profile), timings)
        rig = Rig(simulator, link, tester)
        started.append(rig)
        await tester.__aenter__()
        return rig

    yield _start
    for rig in reversed(started):
        await rig.tester.__aexit__(None, None, None)
        await rig.simulator.stop()

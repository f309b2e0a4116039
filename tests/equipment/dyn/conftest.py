"""Fixtures: the dynamometer simulator on a real pymodbus TCP server, and a driver connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

import pytest

from equipment.dyn_driver import ChassisDynamometer, DynTimings
from equipment.dyn_profile import load_dyn_profile
from equipment.modbus_link import ModbusTcpLink
from simulators.dyn_sim import DynFault, DynSimulator
from simulators.vehicle_on_rollers import RollerModel, VehicleModel

# 50x real time: the 3 s lift moves in 60 ms, a load mode settles in a few ms.
TIME_SCALE = 0.02
FAST = DynTimings(mode_s=0.5, lift_s=0.5, release_s=0.5, poll_s=0.002)


@dataclass
class DynRig:
    simulator: DynSimulator
    link: ModbusTcpLink
    dyn: ChassisDynamometer


StartDyn = Callable[..., Awaitable[DynRig]]


@pytest.fixture
async def start_dyn() -> AsyncIterator[StartDyn]:
    """``await start_dyn(vehicle=, faults=, retries=, timings=)``: simulator + open driver."""
    started: list[DynRig] = []

    async def _start(
        vehicle: VehicleModel | None = None,
        *,
        faults: Iterable[DynFault] = (),
        retries: int = 3,
        timings: DynTimings = FAST,
    ) -> DynRig:
        model = RollerModel(vehicle=vehicle or VehicleModel.petrol_car(), time_scale=TIME_SCALE)
        simulator = DynSimulator(model, faults=faults, time_scale=TIME_SCALE)
        port = await simulator.start_tcp()
        link = ModbusTcpLink("127.0.0.1", port, timeout=0.2, retries=retries, busy_wait=0.005, device="dyn")
        dyn = ChassisDynamometer(link, load_dyn_profile("dyn-default"), timings)
        await dyn.__aenter__()
        rig = DynRig(simulator, link, dyn)
        started.append(rig)
        return rig

    yield _start
    for rig in started:
        await rig.dyn.__aexit__(None, None, None)
        await rig.simulator.stop()

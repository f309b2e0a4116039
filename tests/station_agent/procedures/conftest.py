"""A vehicle on the rollers for the loaded procedures: dynamometer (pymodbus TCP), gas analyser and
opacity meter (ptys), all three simulators reading one ``RollerModel``, 100x faster than real time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

import pytest

from equipment.dyn_driver import ChassisDynamometer, DynTimings
from equipment.dyn_profile import load_dyn_profile
from equipment.ega_driver import GasAnalyser
from equipment.modbus_link import ModbusTcpLink
from equipment.opm_driver import OpacityMeter
from equipment.serial_link import SerialConfig, SerialLink
from inspection import Fuel, Vehicle, VehicleClass, VehicleUse
from simulators.dyn_sim import DynFault, DynSimulator
from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.opm_sim import OpacityMeterSimulator, OpmScenario
from simulators.vehicle_on_rollers import RollerModel, VehicleModel
from station_agent.clock import ScaledClock

SCALE = 0.01

PETROL_CAR = Vehicle(
    vin="LFV2A21K6NA000001", plate="渝A12345", registration_province="50", vehicle_class=VehicleClass.M1,
    fuel=Fuel.PETROL, seats=5, use=VehicleUse.NON_OPERATING, registration_date=date(2020, 5, 1),
    curb_mass_kg=1350, max_total_mass_kg=1800, axle_count=2,
)  # fmt: skip
DIESEL_TRUCK = replace(
    PETROL_CAR, fuel=Fuel.DIESEL, vehicle_class=VehicleClass.N2, curb_mass_kg=4500, max_total_mass_kg=9000,
    rated_power_kw=110, rated_engine_speed_rpm=3200,
)  # fmt: skip


@dataclass
class LoadedRig:
    model: RollerModel
    dyn_sim: DynSimulator
    ega_sim: GasAnalyserSimulator
    opm_sim: OpacityMeterSimulator
    dyn: ChassisDynamometer
    ega: GasAnalyser
    opm: OpacityMeter
    clock: ScaledClock


StartLoaded = Callable[..., Awaitable[LoadedRig]]


@pytest.fixture
async def start_loaded() -> AsyncIterator[StartLoaded]:
    started: list[LoadedRig] = []
    links: list[SerialLink] = []

    async def _start(vehicle: VehicleModel | None = None, *, faults: Iterable[DynFault] = ()) -> LoadedRig:
        model = RollerModel(vehicle=vehicle or VehicleModel.petrol_car(), time_scale=SCALE)
        dyn_sim = DynSimulator(model, faults=faults, time_scale=SCALE)
        port = await dyn_sim.start_tcp()
        ega_sim = GasAnalyserSimulator(
            EgaScenario.two_speed_idle(warm_up_s=0, zero_s=0.5), time_scale=SCALE, engine=model
        )
        opm_sim = OpacityMeterSimulator(OpmScenario(warm_up_s=0, zero_s=0.5), time_scale=SCALE, engine=model)
        # No test here is about timeouts: CI beside the benchmarks once kept a reply past 0.5 s.
        serial = SerialConfig(port="unset", response_timeout_s=2.0, idle_gap_s=0.01)
        ega_link = SerialLink(replace(serial, port=ega_sim.start()))
        opm_link = SerialLink(replace(serial, port=opm_sim.start()))
        links.extend((ega_link, opm_link))
        link = ModbusTcpLink("127.0.0.1", port, timeout=0.5, retries=3, busy_wait=0.005, device="dyn")
        dyn = ChassisDynamometer(link, load_dyn_profile("dyn-default"), DynTimings(poll_s=0.002))
        await dyn.__aenter__()
        rig = LoadedRig(
            model, dyn_sim, ega_sim, opm_sim, dyn,
            GasAnalyser(ega_link, zero_timeout_s=1, zero_poll_s=0.005),
            OpacityMeter(opm_link, zero_timeout_s=1, zero_poll_s=0.005),
            ScaledClock(SCALE),
        )  # fmt: skip
        started.append(rig)
        return rig

    yield _start
    for link in links:
        link.close()
    for rig in started:
        await rig.dyn.__aexit__(None, None, None)
        await rig.dyn_sim.stop()
        rig.ega_sim.stop()
        rig.opm_sim.stop()

"""End to end on a lane with an OBD scan tool: vehicles with OBD get the check before their emission
test, its reading is on the signed record, judged, and judged the same after the protobuf round trip
the hub makes; a vehicle without OBD never touches the scan tool; a silent adapter aborts the visit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inspection import Fuel, Outcome
from inspection.verdicts import judge
from protos.record_mapping import record_from_bytes, record_to_bytes
from simulators.obd_sim import ObdScenario
from simulators.serial_device import Fault, FaultKind
from station_agent.lane import LaneState
from tests.station_agent.lane.bench_rig import SupervisedLane, supervised_lane
from tests.station_agent.lane.lane_rig import vehicle_with

pytestmark = pytest.mark.slow


async def _inspect(
    rig: SupervisedLane, fuel: Fuel, index: int, scenario: ObdScenario | None, *, has_obd: bool = True
):  # type: ignore[no-untyped-def]
    vehicle = replace(vehicle_with(fuel, index), has_obd=has_obd)
    rig.benches.next_vehicle(vehicle, seed=index)
    if scenario is not None:
        rig.benches.obd.use(scenario)
    record_id = await rig.lane.check_in(vehicle)
    view = await rig.lane.wait_for(record_id, LaneState.VISUAL)
    if view.state is not LaneState.VISUAL:
        return vehicle, None, view.error
    record = await rig.lane.complete(record_id)
    # What the hub does: parse the signed bytes and judge again.
    assert judge(record_from_bytes(record_to_bytes(record))) == record.station_verdict
    return vehicle, record, None


def _items(record, prefix: str = "obd."):  # type: ignore[no-untyped-def]
    return {i.code: i for i in record.station_verdict.items if i.code.startswith(prefix)}


async def test_obd_vehicles_are_checked_and_judged_on_the_lane(tmp_path: Path) -> None:
    async with supervised_lane(tmp_path) as rig:
        vehicle, record, _ = await _inspect(rig, Fuel.PETROL, 0, None)
        assert record.obd.communicated and record.obd.vin == vehicle.vin and not record.obd.mil_on
        assert {i.outcome for i in _items(record).values()} == {Outcome.PASS}

        vehicle, record, _ = await _inspect(
            rig, Fuel.DIESEL, 0, ObdScenario.mil_on_with_emission_dtcs(vehicle_with(Fuel.DIESEL, 0).vin)
        )
        assert record.obd.stored_dtcs == ("P0420", "P0133")
        assert _items(record)["obd.mil.emission_dtcs.max"].outcome is Outcome.FAIL
        assert record.station_verdict.overall is Outcome.FAIL
        assert record.emission is not None  # the emission test ran after the OBD check

        _, record, _ = await _inspect(rig, Fuel.PETROL, 1, ObdScenario.no_communication())
        assert not record.obd.communicated
        assert _items(record)["obd.communication"].outcome is Outcome.FAIL

        _, record, _ = await _inspect(
            rig, Fuel.PETROL, 2, ObdScenario.vin_mismatch(vehicle_with(Fuel.PETROL, 2).vin)
        )
        assert _items(record)["obd.vin.match"].outcome is Outcome.FAIL

        received = len(rig.benches.obd.received)
        _, record, _ = await _inspect(rig, Fuel.PETROL, 3, None, has_obd=False)
        assert record.obd is None and _items(record) == {}
        assert all(command in ("probe", "ati", "repeat") for command in rig.benches.obd.received[received:])


async def test_a_silent_scan_tool_aborts_the_visit_naming_it(tmp_path: Path) -> None:
    async with supervised_lane(tmp_path) as rig:
        rig.benches.obd.faults.append(Fault(FaultKind.SILENCE))
        _, record, error = await _inspect(rig, Fuel.PETROL, 0, None)
        assert record is None and error is not None and "obd" in error and "no reply" in error

"""OBD check (GB 18285-2018 / GB 3847-2018): read MIL, stored DTCs, readiness and VIN (spec 6).

The inspector plugs the scan tool into the vehicle's diagnostic socket with the ignition on; the
procedure connects through the adapter and reads service 01 PID 01, service 03 and service 09
PID 02. What it reads is recorded as read; judging it is the rules' business
(``inspection.verdicts.obd_rules``). Two outcomes are results, not failures of the bench:

* the vehicle does not communicate (``VehicleNotCommunicating``): recorded as such - the rules
  fail a vehicle that should have OBD and does not talk;
* the VIN cannot be read (``VinUnreadable``): recorded without a VIN and with the reason.

An adapter that does not answer, or an answer that does not decode, is the bench's failure and
aborts the visit as any bench error does (the lane runs the step again if the port went away).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from equipment.errors import VehicleNotCommunicating, VinUnreadable
from inspection import Vehicle
from inspection.measurements import MonitorReadiness, ObdCheck

if TYPE_CHECKING:
    from equipment.obd_driver import ObdAdapter

PROCEDURE = "OBD check"

Display = Callable[[str], None]


async def run_obd_check(
    adapter: ObdAdapter, vehicle: Vehicle, *, display: Display = lambda _: None
) -> ObdCheck:
    display(f"{vehicle.plate}: plug the OBD scan tool into the diagnostic socket, ignition on, engine off")
    try:
        async with adapter.connect() as session:
            status = await session.status()
            dtcs = await session.stored_dtcs()
            try:
                vin: str | None = await session.vin()
                vin_note = ""
            except VinUnreadable as error:
                vin, vin_note = None, error.cause
            protocol = session.protocol
    except VehicleNotCommunicating as error:
        display(f"{vehicle.plate}: the vehicle does not communicate with the scan tool ({error.cause})")
        return ObdCheck(communicated=False, vin_note=f"no communication: {error.command}: {error.cause}")
    display(f"{vehicle.plate}: OBD read; unplug the scan tool")
    return ObdCheck(
        communicated=True,
        protocol=protocol,
        mil_on=status.mil_on,
        dtc_count=status.dtc_count,
        stored_dtcs=dtcs,
        readiness=tuple(MonitorReadiness(m.monitor, m.supported, m.complete) for m in status.monitors),
        vin=vin,
        vin_note=vin_note,
    )

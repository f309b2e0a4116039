"""OBD check rules (GB 18285-2018 petrol, GB 3847-2018 diesel; standards.md §10).

Which vehicles: every vehicle that has OBD (``Vehicle.has_obd``) and takes an emission test
(``obd_check_required``). A record of such a vehicle without an OBD check gets every OBD item
CANNOT_JUDGE "missing"; a record of a vehicle without OBD gets no OBD items unless it holds a check
(then it is judged as recorded).

Four items, in this order:

``obd.communication``             the vehicle's ECU answered the scan tool; a vehicle that should
                                  have OBD and does not communicate fails (no limit)
``obd.mil.emission_dtcs.max``     stored emission-related DTCs while the MIL is on; limit 0. Service
                                  03 returns the confirmed emission-related codes by definition (SAE
                                  J1979), so every stored code counts. With the MIL off it is 0:
                                  "the MIL must be off, or if on, no emission-related stored DTCs"
``obd.readiness.incomplete.max``  supported readiness monitors not complete; the allowed count is
                                  configuration (its value is open, limits.py)
``obd.vin.match``                 the VIN read from the ECU (service 09 PID 02) equals the vehicle's
                                  (no limit). A VIN the ECU did not give is CANNOT_JUDGE with the
                                  reason (our reading: the summary does not say it fails)

When the vehicle did not communicate, the three others are CANNOT_JUDGE "no communication".
"""

from __future__ import annotations

from inspection.measurements import ObdCheck
from inspection.vehicle import Vehicle
from inspection.verdict import Outcome, VerdictItem
from inspection.verdicts.emission_rules import Procedure, required_procedure
from inspection.verdicts.limits import DEFAULT_LIMITS, LimitTable, Rule, judged_item, unjudged_item

COMMUNICATION = "obd.communication"
MIL_DTCS = "obd.mil.emission_dtcs.max"
READINESS = "obd.readiness.incomplete.max"
VIN_MATCH = "obd.vin.match"


def obd_check_required(vehicle: Vehicle) -> bool:
    """A vehicle with OBD whose fuel takes an emission test gets the OBD check."""
    return vehicle.has_obd and required_procedure(vehicle) is not None


def _variant(vehicle: Vehicle) -> str:
    # Diesel engines are judged under GB 3847; petrol, petrol hybrids and gas under GB 18285. The
    # no-load fallback names the standard whether or not the vehicle goes on the rollers.
    fallback = required_procedure(vehicle, dynamometer=False)
    return "diesel" if fallback is Procedure.FREE_ACCELERATION else "petrol"


def _clause(vehicle: Vehicle, limits: LimitTable) -> str:
    return limits.get(Rule.OBD_MIL_EMISSION_DTCS, _variant(vehicle)).clause


def _plain_item(code: str, clause: str, outcome: Outcome, note: str) -> VerdictItem:
    return VerdictItem(
        code=code, clause=clause, measured=None, limit=None, unit="", outcome=outcome, note=note
    )


def communication_item(vehicle: Vehicle, check: ObdCheck, limits: LimitTable = DEFAULT_LIMITS) -> VerdictItem:
    if check.communicated:
        return _plain_item(
            COMMUNICATION, _clause(vehicle, limits), Outcome.PASS, f"protocol {check.protocol}"
        )
    return _plain_item(
        COMMUNICATION,
        _clause(vehicle, limits),
        Outcome.FAIL,
        "the vehicle should have OBD and its ECU did not communicate with the scan tool",
    )


def mil_item(vehicle: Vehicle, check: ObdCheck, limits: LimitTable = DEFAULT_LIMITS) -> VerdictItem:
    limit = limits.get(Rule.OBD_MIL_EMISSION_DTCS, _variant(vehicle))
    codes = ", ".join(check.stored_dtcs)
    if not check.mil_on:
        note = "MIL off" + (f"; stored DTCs {codes} (not judged with the MIL off)" if codes else "")
        return judged_item(MIL_DTCS, limit, 0, note)
    if not check.stored_dtcs:
        return judged_item(MIL_DTCS, limit, 0, "MIL on without stored emission-related DTCs")
    return judged_item(MIL_DTCS, limit, len(check.stored_dtcs), f"MIL on; stored DTCs {codes}")


def readiness_item(vehicle: Vehicle, check: ObdCheck, limits: LimitTable = DEFAULT_LIMITS) -> VerdictItem:
    limit = limits.get(Rule.OBD_READINESS_INCOMPLETE, _variant(vehicle))
    if not check.readiness:
        return unjudged_item(READINESS, limit, "no readiness monitors in the record")
    incomplete = check.incomplete_monitors()
    names = ", ".join(m.value for m in incomplete)
    note = f"incomplete: {names}" if incomplete else "every supported monitor complete"
    return judged_item(READINESS, limit, len(incomplete), note)


def vin_item(vehicle: Vehicle, check: ObdCheck, limits: LimitTable = DEFAULT_LIMITS) -> VerdictItem:
    clause = _clause(vehicle, limits)
    if check.vin is None:
        reason = check.vin_note or "the ECU gave no VIN"
        return _plain_item(VIN_MATCH, clause, Outcome.CANNOT_JUDGE, f"VIN not read: {reason}")
    if check.vin == vehicle.vin:
        return _plain_item(VIN_MATCH, clause, Outcome.PASS, f"ECU VIN {check.vin}")
    return _plain_item(
        VIN_MATCH, clause, Outcome.FAIL, f"ECU VIN {check.vin} is not the vehicle's {vehicle.vin}"
    )


def judge_obd(
    vehicle: Vehicle, check: ObdCheck | None, limits: LimitTable = DEFAULT_LIMITS
) -> tuple[VerdictItem, ...]:
    if check is None:
        if not obd_check_required(vehicle):
            return ()
        return _unjudged(
            vehicle, limits, f"{vehicle.fuel.value} vehicle with OBD: OBD check missing from the record"
        )
    if not check.communicated:
        return (
            communication_item(vehicle, check, limits),
            *_unjudged(vehicle, limits, "no communication")[1:],
        )
    return (
        communication_item(vehicle, check, limits),
        mil_item(vehicle, check, limits),
        readiness_item(vehicle, check, limits),
        vin_item(vehicle, check, limits),
    )


def _unjudged(vehicle: Vehicle, limits: LimitTable, reason: str) -> tuple[VerdictItem, ...]:
    variant = _variant(vehicle)
    clause = _clause(vehicle, limits)
    return (
        _plain_item(COMMUNICATION, clause, Outcome.CANNOT_JUDGE, reason),
        unjudged_item(MIL_DTCS, limits.get(Rule.OBD_MIL_EMISSION_DTCS, variant), reason),
        unjudged_item(READINESS, limits.get(Rule.OBD_READINESS_INCOMPLETE, variant), reason),
        _plain_item(VIN_MATCH, clause, Outcome.CANNOT_JUDGE, reason),
    )


__all__ = [
    "COMMUNICATION",
    "MIL_DTCS",
    "READINESS",
    "VIN_MATCH",
    "communication_item",
    "judge_obd",
    "mil_item",
    "obd_check_required",
    "readiness_item",
    "vin_item",
]

"""Whether a vehicle may have an exemption label (免检标志) instead of a lane inspection.

``decide_exemption`` is pure: the facts come in as plain data (the registration hub's register,
insurance, tax, violation and accident flags) and the answer lists EVERY reason that fails, so an
owner refused for two reasons learns both at once. The regime in force on the application date
decides the class rules and the schedule (``inspection.inspection_schedule``).

Age reasons are judged on the exempt schedule of the regime even when the class already fails, so
that "a van, and also not due yet" reads as both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from inspection.inspection_schedule import (
    DueKind,
    DuePoint,
    Regime,
    ScheduledVehicle,
    max_exempt_seats,
    position_on,
    regime_on,
)
from inspection.vehicle import VehicleClass, VehicleUse


class RefusalReason(StrEnum):
    NO_EXEMPTION_IN_FORCE = "no_exemption_in_force"  # applied before 2014-09-01
    NOT_SMALL_PASSENGER_CAR = "not_small_passenger_car"  # vehicle class is not M1
    OPERATING_USE = "operating_use"  # 营运
    VAN = "van"  # 面包车
    TOO_MANY_SEATS = "too_many_seats"
    NOT_YET_REGISTERED = "not_yet_registered"  # application before the registration date
    WINDOW_NOT_OPEN = "window_not_open"  # before 3 months ahead of the first label due date
    LANE_INSPECTION_DUE = "lane_inspection_due"  # the due point now open is a lane inspection
    CASUALTY_ACCIDENT = "casualty_accident"  # ever involved in an accident with casualties
    INSURANCE_NOT_VALID = "insurance_not_valid"  # 交强险 not valid on the application date
    VEHICLE_TAX_UNPAID = "vehicle_tax_unpaid"
    UNRESOLVED_VIOLATIONS = "unresolved_violations"
    UNRESOLVED_ACCIDENTS = "unresolved_accidents"


@dataclass(frozen=True, slots=True)
class ExemptionFacts:
    """What the registration hub knows about a vehicle on the application date."""

    vehicle: ScheduledVehicle
    casualty_accident: bool
    insurance_valid_until: date | None  # None: no compulsory insurance on record
    vehicle_tax_paid: bool
    unresolved_violations: int
    unresolved_accidents: int


@dataclass(frozen=True, slots=True)
class ExemptionDecision:
    """Granted when ``reasons`` is empty; then ``due_point`` is the label due point the label
    answers for and the label is valid from the application date until ``valid_until``."""

    application_date: date
    regime: Regime
    reasons: tuple[RefusalReason, ...]
    due_point: DuePoint | None
    valid_until: date | None

    @property
    def granted(self) -> bool:
        return not self.reasons


def _class_reasons(vehicle: ScheduledVehicle, regime: Regime) -> list[RefusalReason]:
    if regime is Regime.LAW_2004:
        return [RefusalReason.NO_EXEMPTION_IN_FORCE]
    reasons = []
    if vehicle.vehicle_class is not VehicleClass.M1:
        reasons.append(RefusalReason.NOT_SMALL_PASSENGER_CAR)
    if vehicle.use is not VehicleUse.NON_OPERATING:
        reasons.append(RefusalReason.OPERATING_USE)
    if vehicle.van:
        reasons.append(RefusalReason.VAN)
    limit = max_exempt_seats(regime)
    if limit is not None and vehicle.seats > limit:
        reasons.append(RefusalReason.TOO_MANY_SEATS)
    return reasons


def _as_exempt_car(vehicle: ScheduledVehicle) -> ScheduledVehicle:
    """The same registration date on a car the regime exempts, to judge age alone."""
    return ScheduledVehicle(VehicleClass.M1, VehicleUse.NON_OPERATING, 5, False, vehicle.registration_date)


def decide_exemption(facts: ExemptionFacts, application_date: date) -> ExemptionDecision:
    regime = regime_on(application_date)
    vehicle = facts.vehicle
    reasons = _class_reasons(vehicle, regime)
    due_point: DuePoint | None = None
    valid_until: date | None = None
    if application_date < vehicle.registration_date:
        reasons.append(RefusalReason.NOT_YET_REGISTERED)
    elif regime is not Regime.LAW_2004:
        position = position_on(_as_exempt_car(vehicle), application_date, regime)
        current = position.current
        if current is None:
            reasons.append(RefusalReason.WINDOW_NOT_OPEN)
        elif current.kind is not DueKind.LABEL:
            reasons.append(RefusalReason.LANE_INSPECTION_DUE)
        else:
            due_point, valid_until = current, position.following.due
    if facts.casualty_accident:
        reasons.append(RefusalReason.CASUALTY_ACCIDENT)
    if facts.insurance_valid_until is None or facts.insurance_valid_until < application_date:
        reasons.append(RefusalReason.INSURANCE_NOT_VALID)
    if not facts.vehicle_tax_paid:
        reasons.append(RefusalReason.VEHICLE_TAX_UNPAID)
    if facts.unresolved_violations > 0:
        reasons.append(RefusalReason.UNRESOLVED_VIOLATIONS)
    if facts.unresolved_accidents > 0:
        reasons.append(RefusalReason.UNRESOLVED_ACCIDENTS)
    if reasons:
        return ExemptionDecision(application_date, regime, tuple(reasons), None, None)
    return ExemptionDecision(application_date, regime, (), due_point, valid_until)


def inspection_label_valid_until(vehicle: ScheduledVehicle, passed_on: date) -> date:
    """Until when a label for a lane inspection passed on ``passed_on`` is valid: the due date
    after the due point that inspection answers (the one whose window is open or last was)."""
    return position_on(vehicle, passed_on).following.due

"""The inspection record: everything one vehicle's visit to a lane produced, as the station signs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from inspection.measurements import AxleBrake, EmissionRun, LampMeasurement, ObdCheck, PhotoRef, VisualCheck
from inspection.vehicle import Vehicle
from inspection.verdict import Verdict


class InspectionPurpose(StrEnum):
    """Why the vehicle is inspected: it decides the "new vehicle" limits, not the registration date."""

    PERIODIC = "periodic"  # 定期检验
    REGISTRATION = "registration"  # 注册登记检验: a new vehicle's inspection before registration
    # Records from before the purpose was kept, and check-ins that do not say: the rules then read
    # "new" from the dates as they always did, so such a record is recomputed unchanged.
    UNRECORDED = "unrecorded"


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    record_id: UUID
    station_id: str
    lane: int
    vehicle: Vehicle
    started_at: datetime  # timezone-aware
    finished_at: datetime
    axles: tuple[AxleBrake, ...] = ()
    lamps: tuple[LampMeasurement, ...] = ()
    emission: EmissionRun | None = None
    visual_checks: tuple[VisualCheck, ...] = ()
    photos: tuple[PhotoRef, ...] = ()
    station_verdict: Verdict | None = None
    obd: ObdCheck | None = None  # the OBD check, for vehicles that have OBD
    purpose: InspectionPurpose = InspectionPurpose.UNRECORDED
    laden: bool = False  # tested laden (满载): the laden brake limits apply

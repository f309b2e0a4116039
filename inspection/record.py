"""The inspection record: everything one vehicle's visit to a lane produced, as the station signs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from inspection.measurements import AxleBrake, EmissionRun, LampMeasurement, ObdCheck, PhotoRef, VisualCheck
from inspection.vehicle import Vehicle
from inspection.verdict import Verdict


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

"""The inspection domain shared by station agent and hub: vehicles, measurements, records, verdicts.

Plain frozen dataclasses and enums, no I/O, no protobuf, no database: everything here can be
constructed in a test with literals, and the judging rules (``inspection.verdicts``) are pure
functions over these types, so agent and hub reach the same verdict from the same data.
"""

from inspection.errors import InspectionError
from inspection.identifiers import (
    PROVINCES,
    InvalidIdentifier,
    province_code_of_plate,
    validate_plate,
    validate_vin,
    vin_check_digit,
)
from inspection.measurements import (
    Ambient,
    AsmMode,
    AsmPhase,
    AsmRun,
    AxleBrake,
    Beam,
    BrakeCurve,
    BrakeKind,
    EmissionRun,
    FreeAccelerationRun,
    GasReading,
    LampMeasurement,
    LimitSet,
    LoadedSecond,
    LugDownPoint,
    LugDownRun,
    PhotoRef,
    Side,
    TwoSpeedIdleRun,
    VisualCheck,
)
from inspection.record import InspectionRecord
from inspection.vehicle import Fuel, LampSystem, Vehicle, VehicleClass, VehicleUse
from inspection.verdict import Outcome, Verdict, VerdictItem

__all__ = [
    "PROVINCES",
    "Ambient",
    "AsmMode",
    "AsmPhase",
    "AsmRun",
    "AxleBrake",
    "Beam",
    "BrakeCurve",
    "BrakeKind",
    "EmissionRun",
    "FreeAccelerationRun",
    "Fuel",
    "GasReading",
    "InspectionError",
    "InspectionRecord",
    "InvalidIdentifier",
    "LampMeasurement",
    "LampSystem",
    "LimitSet",
    "LoadedSecond",
    "LugDownPoint",
    "LugDownRun",
    "Outcome",
    "PhotoRef",
    "Side",
    "TwoSpeedIdleRun",
    "Vehicle",
    "VehicleClass",
    "VehicleUse",
    "Verdict",
    "VerdictItem",
    "VisualCheck",
    "province_code_of_plate",
    "validate_plate",
    "validate_vin",
    "vin_check_digit",
]

"""The verdict rules: pure functions from an ``InspectionRecord`` to a ``Verdict``.

Station and hub both call ``judge(record)``; same data, same rules, same verdict. No I/O, no
protobuf, no database. Every limit lives in ``limits.DEFAULT_LIMITS`` with its clause and evidence.

Item codes
----------
``<area>.<subject>...<quantity>.<bound>`` where the bound is ``min`` (passes when measured >= limit)
or ``max`` (passes when measured <= limit), e.g. ``brake.service.axle1.rate.min``,
``lamp.left.low.vertical.max``, ``emission.tsi.low_idle.co.max``. Visual checks are
``visual.<item code>`` and carry no limit. ``bound_of(item)`` reads the bound back.

Each item's outcome is PASS, FAIL or CANNOT_JUDGE (missing or impossible data, with the reason in
``note``); the verdict's overall outcome is derived by ``Verdict.overall``.
"""

from __future__ import annotations

from inspection.limit_sets import LimitSetSchedule
from inspection.measurements import VisualCheck
from inspection.record import InspectionRecord
from inspection.verdict import Outcome, Verdict, VerdictItem
from inspection.verdicts.brake_rules import (
    axle_rate_item,
    drag_items,
    force_build_up,
    imbalance_item,
    judge_brakes,
    parking_rate_item,
    vehicle_rate_item,
)
from inspection.verdicts.emission_rules import (
    Procedure,
    accepted_procedures,
    fits_on_rollers,
    free_acceleration_item,
    judge_emission,
    required_procedure,
    two_speed_idle_items,
)
from inspection.verdicts.headlight_rules import inspection_date, judge_headlamps
from inspection.verdicts.limit_set_rules import limit_set_item
from inspection.verdicts.limits import DEFAULT_LIMITS, Bound, Limit, LimitTable, Rule, UnknownLimit
from inspection.verdicts.loaded_emission_rules import asm_items, lug_down_items
from inspection.verdicts.obd_rules import judge_obd, obd_check_required

VISUAL_CLAUSE = "GB 38900-2020 visual and chassis items"


def visual_items(checks: tuple[VisualCheck, ...]) -> tuple[VerdictItem, ...]:
    """One item per check item code, judged on its latest entry (entries are in the order the lane
    took them; a later one is a correction, whose reason the note carries)."""
    latest: dict[str, VisualCheck] = {}
    for check in checks:
        latest[check.item_code] = check  # a corrected item keeps the place of its first entry
    return tuple(_visual_item(check) for check in latest.values())


def _visual_item(check: VisualCheck) -> VerdictItem:
    note = (
        f"{check.note} (inspector {check.inspector_id})" if check.note else f"inspector {check.inspector_id}"
    )
    if check.correction_reason:
        note += f"; corrects an earlier result: {check.correction_reason}"
    return VerdictItem(
        code=f"visual.{check.item_code}",
        clause=VISUAL_CLAUSE,
        measured=None,
        limit=None,
        unit="",
        outcome=Outcome.PASS if check.passed else Outcome.FAIL,
        note=note,
    )


def judge(
    record: InspectionRecord,
    *,
    limits: LimitTable = DEFAULT_LIMITS,
    limit_sets: LimitSetSchedule | None = None,
) -> Verdict:
    """Brakes, headlamps, emission (where the fuel needs it or the record holds it), OBD (where the
    vehicle has it or the record holds a check), whether the emission run used its province's limit
    set on its date (when ``limit_sets`` is given, as station and hub do from the same file), visual
    checks."""
    vehicle = record.vehicle
    return Verdict(
        (
            *judge_brakes(vehicle, record.axles, limits, laden=record.laden),
            *judge_headlamps(vehicle, record.lamps, inspection_date(record), limits, purpose=record.purpose),
            *judge_emission(vehicle, record.emission, limits),
            *judge_obd(vehicle, record.obd, limits),
            *_limit_set_items(record, limit_sets),
            *visual_items(record.visual_checks),
        )
    )


def _limit_set_items(record: InspectionRecord, schedule: LimitSetSchedule | None) -> tuple[VerdictItem, ...]:
    item = None if schedule is None else limit_set_item(record, schedule)
    return () if item is None else (item,)


def bound_of(item: VerdictItem) -> Bound | None:
    """The direction of an item's limit, from its code (None for items without a limit)."""
    last = item.code.rsplit(".", 1)[-1]
    return Bound(last) if last in (Bound.MIN.value, Bound.MAX.value) and item.limit is not None else None


__all__ = [
    "DEFAULT_LIMITS",
    "Bound",
    "Limit",
    "LimitTable",
    "Procedure",
    "Rule",
    "UnknownLimit",
    "accepted_procedures",
    "asm_items",
    "axle_rate_item",
    "bound_of",
    "drag_items",
    "fits_on_rollers",
    "force_build_up",
    "free_acceleration_item",
    "imbalance_item",
    "inspection_date",
    "judge",
    "judge_brakes",
    "judge_emission",
    "judge_headlamps",
    "judge_obd",
    "lug_down_items",
    "obd_check_required",
    "parking_rate_item",
    "required_procedure",
    "two_speed_idle_items",
    "vehicle_rate_item",
    "visual_items",
]

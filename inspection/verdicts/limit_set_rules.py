"""Whether an emission run was judged against the limit set its province applies on its date.

Only when a schedule is configured (``inspection.limit_sets``): station and hub then call
``judge(record, limit_sets=schedule)`` with the same schedule and reach the same item. One item,
``emission.limit_set``, without a limit: PASS when the run's set is the scheduled one; CANNOT_JUDGE
when it is not (the emission items were judged against the wrong set) or when the schedule has no
set for that province and date. The province is the inspecting station's (the station id's prefix).
"""

from __future__ import annotations

from inspection.limit_sets import LimitSetSchedule, NoLimitSet, limit_set_for, province_of_station
from inspection.record import InspectionRecord
from inspection.verdict import Outcome, VerdictItem
from inspection.verdicts.headlight_rules import inspection_date

CODE = "emission.limit_set"
CLAUSE = "GB 18285-2018 / GB 3847-2018 limit set a or b, per province and date"


def limit_set_item(record: InspectionRecord, schedule: LimitSetSchedule) -> VerdictItem | None:
    """None when the record has no emission run (nothing was judged against a set)."""
    run = record.emission
    if run is None:
        return None
    province = province_of_station(record.station_id)
    on = inspection_date(record)
    try:
        scheduled = limit_set_for(province, on, schedule)
    except NoLimitSet as error:
        return VerdictItem(CODE, CLAUSE, None, None, "", Outcome.CANNOT_JUDGE, str(error))
    where = f"province {province} applies set {scheduled.value} on {on.isoformat()}"
    if run.limit_set is scheduled:
        return VerdictItem(CODE, CLAUSE, None, None, "", Outcome.PASS, where)
    return VerdictItem(
        CODE,
        CLAUSE,
        None,
        None,
        "",
        Outcome.CANNOT_JUDGE,
        f"run judged against set {run.limit_set.value}; {where}",
    )

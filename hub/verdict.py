"""The hub's own verdict on a record, and that verdict as stored JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from inspection import InspectionRecord, Verdict

log = logging.getLogger(__name__)

Judge = Callable[[InspectionRecord], Verdict]


class VerdictJudge:
    """The hub's own verdict, by ``inspection.verdicts.judge`` unless a judge is configured.

    The rules module is imported on first use; if it cannot be imported, records are stored
    without a hub verdict and that is logged once. A judge that raises on one record is a bug
    in the rules, not in the record: that record is stored without a hub verdict and logged.
    """

    def __init__(self, judge: Judge | None) -> None:
        self._judge = judge
        self._resolved = judge is not None

    def __call__(self, record: InspectionRecord) -> Verdict | None:
        if not self._resolved:
            self._resolved = True
            try:
                from inspection.verdicts import judge
            except ImportError as error:
                log.warning("no hub verdicts: inspection.verdicts.judge is not available (%s)", error)
            else:
                self._judge = judge
        if self._judge is None:
            return None
        try:
            return self._judge(record)
        except Exception:
            log.exception("judging record %s failed; stored without a hub verdict", record.record_id)
            return None


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "overall": verdict.overall.value,
        "items": [
            {
                "code": item.code,
                "clause": item.clause,
                "measured": item.measured,
                "limit": item.limit,
                "unit": item.unit,
                "outcome": item.outcome.value,
                "note": item.note,
            }
            for item in verdict.items
        ],
    }

"""The shape of a verdict: items, each with measured value, limit, unit, clause and outcome.

The overall outcome is derived, never stored separately in the domain: any FAIL fails the
inspection; otherwise any CANNOT_JUDGE makes it CANNOT_JUDGE; otherwise it passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    CANNOT_JUDGE = "cannot_judge"


@dataclass(frozen=True, slots=True)
class VerdictItem:
    code: str  # stable machine code, e.g. "brake.service.axle1.sum"
    clause: str  # where the rule comes from, e.g. "GB 7258-2017 7.13.1.1"
    measured: float | None
    limit: float | None
    unit: str
    outcome: Outcome
    note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    items: tuple[VerdictItem, ...]

    @property
    def overall(self) -> Outcome:
        outcomes = {item.outcome for item in self.items}
        if Outcome.FAIL in outcomes:
            return Outcome.FAIL
        if Outcome.CANNOT_JUDGE in outcomes or not self.items:
            return Outcome.CANNOT_JUDGE
        return Outcome.PASS

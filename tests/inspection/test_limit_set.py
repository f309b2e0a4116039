"""The limit set is a ``LimitSet`` everywhere: a run cannot carry an unknown one, nothing defaults it."""

from __future__ import annotations

import pytest

from inspection import FreeAccelerationRun, LimitSet, TwoSpeedIdleRun
from inspection.verdicts import free_acceleration_item


def test_a_run_with_an_unknown_limit_set_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="'c'"):
        FreeAccelerationRun("c", (1.0, 1.0, 1.0))  # type: ignore[arg-type]  # what a careless caller does
    with pytest.raises(ValueError, match="'A'"):
        TwoSpeedIdleRun("A", (), ())  # type: ignore[arg-type]


def test_a_run_made_from_text_carries_the_enum() -> None:
    run = FreeAccelerationRun("b", (1.0, 1.0, 1.0))  # type: ignore[arg-type]  # text from a file
    assert run.limit_set is LimitSet.B


def test_set_b_is_judged_against_set_b() -> None:
    item = free_acceleration_item(FreeAccelerationRun(LimitSet.B, (0.8, 0.8, 0.8)))
    assert (
        "b" in item.clause.lower()
        or item.limit != free_acceleration_item(FreeAccelerationRun(LimitSet.A, (0.8, 0.8, 0.8))).limit
    )

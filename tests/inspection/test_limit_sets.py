"""The limit-set schedule: parsed with every mistake named, looked up by province and date, and the
verdict item that says whether a run used its province's set."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection import FreeAccelerationRun, LimitSet, Outcome
from inspection.limit_sets import (
    LimitSetSchedule,
    LimitSetScheduleError,
    NoLimitSet,
    limit_set_for,
)
from inspection.verdicts import judge
from tests.inspection.verdicts.conftest import record_from

TEXT = """
[provinces]
"*"  = [{ from = 2019-05-01, set = "a" }]
"50" = [{ from = 2019-05-01, set = "a" }, { from = 2023-07-01, set = "b" }]
"""
SCHEDULE = LimitSetSchedule.from_mapping(tomllib.loads(TEXT), source="sets.toml")


@pytest.mark.parametrize(
    ("province", "on", "expected"),
    [
        ("50", date(2023, 6, 30), LimitSet.A),
        ("50", date(2023, 7, 1), LimitSet.B),  # the day a period starts belongs to it
        ("11", date(2030, 1, 1), LimitSet.A),  # not listed: "*"
    ],
)
def test_limit_set_for_province_and_date(province: str, on: date, expected: LimitSet) -> None:
    assert limit_set_for(province, on, SCHEDULE) is expected


def test_before_the_first_period_there_is_no_set() -> None:
    with pytest.raises(NoLimitSet, match="province 50 on 2019-04-30"):
        limit_set_for("50", date(2019, 4, 30), SCHEDULE)


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[provinces]\n"5" = [{ from = 2019-05-01, set = "a" }]', "provinces.5", "two-digit"),
        (
            '[provinces]\n"50" = [{ from = 2019-05-01, set = "c" }]',
            "provinces.50[0].set",
            "'c' is not one of",
        ),
        ('[provinces]\n"50" = [{ from = "2019", set = "a" }]', "provinces.50[0].from", "must be a date"),
        ('[provinces]\n"50" = [{ set = "a" }]', "provinces.50[0].from", "missing"),
        (
            '[provinces]\n"50" = [{ from = 2019-05-01, set = "a", to = 2020-01-01 }]',
            "provinces.50[0].to",
            "unknown key",
        ),
        (
            '[provinces]\n"50" = [{ from = 2023-07-01, set = "b" }, { from = 2019-05-01, set = "a" }]',
            "provinces.50",
            "increasing",
        ),
        ('[provinces]\n"50" = []', "provinces.50", "non-empty"),
        ("colour = 1\n[provinces]\n", "colour", "unknown key"),
        ("", "provinces", "missing"),
    ],
)
def test_each_schedule_mistake_is_named(text: str, key: str, reason: str) -> None:
    with pytest.raises(LimitSetScheduleError) as caught:
        LimitSetSchedule.from_mapping(tomllib.loads(text), source="sets.toml")
    assert (
        caught.value.key == key
        and reason in caught.value.reason
        and str(caught.value).startswith("sets.toml: ")
    )


values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=5),
        st.dates(),
        st.sampled_from(["a", "b", "*", "50"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["from", "set", "x", "50", "*"]), inner, max_size=3),
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["provinces", "other"]), values, max_size=2))
def test_any_mapping_gives_a_schedule_or_a_schedule_error(data: dict[str, Any]) -> None:
    try:
        schedule = LimitSetSchedule.from_mapping(data)
    except LimitSetScheduleError as error:
        assert error.key and error.reason
        return
    for periods in schedule.provinces.values():
        assert [p.valid_from for p in periods] == sorted({p.valid_from for p in periods})


def _diesel_record(limit_set: LimitSet, day: datetime) -> Any:
    record = record_from(
        {"vehicle": {"fuel": "diesel"}, "free_acceleration": {"limit_set": "a", "k_per_m": [0.5, 0.5, 0.5]}}
    )
    return replace(
        record, emission=FreeAccelerationRun(limit_set, (0.5, 0.5, 0.5)), started_at=day, finished_at=day
    )


def test_the_verdict_says_whether_the_run_used_its_provinces_set() -> None:
    # Station 50-0001 inspects on 2026-01-01 (China time): province 50 applies set b.
    day = datetime(2026, 1, 1, 2, tzinfo=UTC)
    right = {i.code: i for i in judge(_diesel_record(LimitSet.B, day), limit_sets=SCHEDULE).items}
    wrong = {i.code: i for i in judge(_diesel_record(LimitSet.A, day), limit_sets=SCHEDULE).items}
    assert right["emission.limit_set"].outcome is Outcome.PASS
    assert wrong["emission.limit_set"].outcome is Outcome.CANNOT_JUDGE
    assert "set a; province 50 applies set b on 2026-01-01" in wrong["emission.limit_set"].note
    assert "emission.limit_set" not in {i.code for i in judge(_diesel_record(LimitSet.A, day)).items}
    early = {
        i.code: i
        for i in judge(
            _diesel_record(LimitSet.A, datetime(2019, 1, 1, tzinfo=UTC)), limit_sets=SCHEDULE
        ).items
    }
    assert early["emission.limit_set"].outcome is Outcome.CANNOT_JUDGE

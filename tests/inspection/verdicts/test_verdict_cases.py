"""The hand-computed cases in verdict_cases.toml, each run through ``judge`` on a whole record."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from inspection import Outcome
from inspection.verdicts import judge
from tests.inspection.verdicts.conftest import record_from

CASES: list[dict[str, Any]] = tomllib.loads((Path(__file__).parent / "verdict_cases.toml").read_text())[
    "case"
]


def test_every_case_cites_a_clause_and_shows_its_arithmetic() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in CASES:
        assert case["clause"].strip() and case["why"].strip(), case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: dict[str, Any]) -> None:
    expect = case["expect"]
    verdict = judge(record_from(case))
    items = {item.code: item for item in verdict.items}
    if expect.get("absent"):
        assert expect["code"] not in items
        return
    item = items[expect["code"]]
    assert item.outcome is Outcome(expect["outcome"]), item
    if "measured" in expect:
        assert item.measured == pytest.approx(expect["measured"], abs=1e-9), item
    if "limit" in expect:
        assert item.limit == pytest.approx(expect["limit"], abs=1e-9), item
    if "note_contains" in expect:
        assert expect["note_contains"] in item.note, item
    assert item.clause, item

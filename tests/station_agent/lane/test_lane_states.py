"""The lane's state table: the one legal path, and an IllegalTransition naming event and state otherwise."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from simulators.fleet import generate_fleet
from station_agent.lane import (
    FINAL,
    ON_BENCHES,
    TRANSITIONS,
    IllegalTransition,
    Lane,
    LaneEvent,
    LaneState,
    _Visit,
)

HAPPY_PATH = [
    (LaneEvent.CHECK_IN, LaneState.CHECKING_IN),
    (LaneEvent.CHECKED_IN, LaneState.BRAKE),
    (LaneEvent.BRAKE_DONE, LaneState.HEADLIGHT),
    (LaneEvent.HEADLIGHT_DONE, LaneState.EMISSION),
    (LaneEvent.EMISSION_DONE, LaneState.VISUAL),
    (LaneEvent.COMPLETE, LaneState.COMPLETING),
    (LaneEvent.SUBMITTED, LaneState.COMPLETE),
]


def visit(state: LaneState = LaneState.WAITING) -> _Visit:
    return _Visit(
        record_id=uuid.uuid4(), vehicle=generate_fleet(1)[0], started_at=datetime.now(UTC), state=state
    )


def test_every_state_is_in_the_table_and_final_states_have_no_way_out() -> None:
    assert set(TRANSITIONS) == set(LaneState)
    for state in FINAL:
        assert TRANSITIONS[state] == {}
    # Every state is reachable from WAITING.
    reached, frontier = {LaneState.WAITING}, [LaneState.WAITING]
    while frontier:
        for new in TRANSITIONS[frontier.pop()].values():
            if new not in reached:
                reached.add(new)
                frontier.append(new)
    assert reached == set(LaneState)


def test_happy_path() -> None:
    v = visit()
    for event, expected in HAPPY_PATH:
        Lane._next_state(v, event)  # legal: does not raise
        v.state = TRANSITIONS[v.state][event]
        assert v.state is expected


@pytest.mark.parametrize("state", list(LaneState))
@pytest.mark.parametrize("event", list(LaneEvent))
def test_illegal_transition_names_event_state_and_record(state: LaneState, event: LaneEvent) -> None:
    v = visit(state)
    if event in TRANSITIONS[state]:
        assert Lane._next_state(v, event) is TRANSITIONS[state][event]
        return
    with pytest.raises(IllegalTransition) as caught:
        Lane._next_state(v, event)
    assert (caught.value.event, caught.value.state, caught.value.record_id) == (event, state, v.record_id)
    assert str(caught.value) == f"record {v.record_id}: {event.value} is not allowed in state {state.value}"


def test_checks_and_photos_only_while_open_and_bench_failures_only_on_the_benches() -> None:
    for state in LaneState:
        open_ = state not in FINAL and state not in (LaneState.WAITING, LaneState.COMPLETING)
        assert (LaneEvent.SUBMIT_CHECKS in TRANSITIONS[state]) is open_
        assert (LaneEvent.ADD_PHOTO in TRANSITIONS[state]) is open_
        assert (LaneEvent.BENCH_FAILED in TRANSITIONS[state]) is (state in ON_BENCHES)

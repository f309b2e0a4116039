"""The lane's state machine, transition by transition: no simulator, no event loop, no private pokes."""

from __future__ import annotations

import uuid

import pytest

from station_agent.errors import IllegalTransition, LaneBusy, LaneError, StationAgentError
from station_agent.lane_state import (
    FINAL,
    ON_BENCHES,
    TRANSITIONS,
    LaneEvent,
    LaneState,
    LaneStateMachine,
    Transition,
    next_state,
)

E, S = LaneEvent, LaneState
BENCH_RUN = [E.CHECKED_IN, E.BRAKE_DONE, E.HEADLIGHT_DONE, E.EMISSION_DONE]
HAPPY_PATH = [
    (E.CHECKED_IN, S.BRAKE),
    (E.BRAKE_DONE, S.HEADLIGHT),
    (E.HEADLIGHT_DONE, S.EMISSION),
    (E.EMISSION_DONE, S.VISUAL),
    (E.COMPLETE, S.COMPLETING),
    (E.SUBMITTED, S.COMPLETE),
]


def checked_in(machine: LaneStateMachine, *events: LaneEvent) -> uuid.UUID:
    record_id = uuid.uuid4()
    machine.check_in(record_id)
    for event in events:
        machine.fire(record_id, event)
    return record_id


def test_every_state_is_in_the_table_and_final_states_have_no_way_out() -> None:
    assert set(TRANSITIONS) == set(LaneState)
    for state in FINAL:
        assert TRANSITIONS[state] == {}
    reached, frontier = {S.WAITING}, [S.WAITING]
    while frontier:
        for new in TRANSITIONS[frontier.pop()].values():
            if new not in reached:
                reached.add(new)
                frontier.append(new)
    assert reached == set(LaneState)


def test_happy_path_move_by_move() -> None:
    machine = LaneStateMachine()
    record_id = uuid.uuid4()
    assert machine.check_in(record_id) == Transition(record_id, E.CHECK_IN, S.WAITING, S.CHECKING_IN)
    for event, expected in HAPPY_PATH:
        old = machine.state(record_id)
        move = machine.fire(record_id, event)
        assert move == Transition(record_id, event, old, expected) and move.changed
        assert machine.state(record_id) is expected
    assert machine.finished() == [record_id]


@pytest.mark.parametrize("state", list(LaneState))
@pytest.mark.parametrize("event", list(LaneEvent))
def test_illegal_transition_names_event_state_and_record(state: LaneState, event: LaneEvent) -> None:
    record_id = uuid.uuid4()
    if event in TRANSITIONS[state]:
        assert next_state(state, event, record_id) is TRANSITIONS[state][event]
        return
    with pytest.raises(IllegalTransition) as caught:
        next_state(state, event, record_id)
    assert (caught.value.event, caught.value.state, caught.value.record_id) == (event, state, record_id)
    assert str(caught.value) == f"record {record_id}: {event.value} is not allowed in state {state.value}"
    assert isinstance(caught.value, LaneError) and isinstance(caught.value, StationAgentError)


def test_checks_and_photos_only_while_open_and_bench_failures_only_on_the_benches() -> None:
    for state in LaneState:
        open_ = state not in FINAL and state not in (S.WAITING, S.COMPLETING)
        assert (E.SUBMIT_CHECKS in TRANSITIONS[state]) is open_
        assert (E.ADD_PHOTO in TRANSITIONS[state]) is open_
        assert (E.BENCH_FAILED in TRANSITIONS[state]) is (state in ON_BENCHES)


def test_checks_and_photos_keep_the_state_and_check_changes_nothing() -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, E.CHECKED_IN)
    assert machine.check(record_id, E.BRAKE_DONE) is S.HEADLIGHT
    assert machine.state(record_id) is S.BRAKE  # only asked
    move = machine.fire(record_id, E.SUBMIT_CHECKS)
    assert not move.changed and machine.state(record_id) is S.BRAKE


def test_one_visit_on_the_benches_names_the_one_that_is() -> None:
    machine = LaneStateMachine()
    first = checked_in(machine, E.CHECKED_IN, E.BRAKE_DONE)
    with pytest.raises(LaneBusy) as caught:
        machine.check_in(uuid.uuid4())
    assert (caught.value.record_id, caught.value.state) == (first, S.HEADLIGHT)
    assert list(machine) == [first]  # the refused vehicle left no trace
    machine.fire(first, E.HEADLIGHT_DONE)
    machine.fire(first, E.EMISSION_DONE)
    # In VISUAL the first has left the benches: the next vehicle may check in meanwhile.
    second = checked_in(machine)
    assert machine.on_benches == second
    assert machine.state(first) is S.VISUAL


def test_a_vehicle_checks_in_once() -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, *BENCH_RUN)
    with pytest.raises(ValueError, match="checked in already"):
        machine.check_in(record_id)


def test_a_bench_failure_after_the_benches_is_refused_not_recorded() -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, E.CHECKED_IN)
    machine.fire(record_id, E.ABORT)  # the inspector's abort lands first
    with pytest.raises(IllegalTransition):
        machine.fire(record_id, E.BENCH_FAILED)
    assert machine.state(record_id) is S.ABORTED
    assert machine.on_benches is None


@pytest.mark.parametrize("steps", range(len(BENCH_RUN) + 1))
def test_abort_from_every_open_state_frees_the_benches(steps: int) -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, *BENCH_RUN[:steps])
    assert machine.fire(record_id, E.ABORT).new is S.ABORTED
    assert machine.on_benches is None and machine.finished() == [record_id]


def test_a_failed_hand_over_goes_back_to_visual_and_can_complete_again() -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, *BENCH_RUN, E.COMPLETE)
    with pytest.raises(IllegalTransition):
        machine.fire(record_id, E.COMPLETE)  # a second completion while the first is under way
    assert machine.fire(record_id, E.SUBMIT_FAILED).new is S.VISUAL
    assert machine.fire(record_id, E.COMPLETE).new is S.COMPLETING


def test_expiry_only_from_visual() -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, E.CHECKED_IN)
    with pytest.raises(IllegalTransition):
        machine.fire(record_id, E.EXPIRED)
    for event in BENCH_RUN[1:]:
        machine.fire(record_id, event)
    assert machine.fire(record_id, E.EXPIRED).new is S.ABORTED


def test_forgotten_visits_are_unknown() -> None:
    machine = LaneStateMachine()
    record_id = checked_in(machine, E.ABORT)
    machine.forget(record_id)
    assert record_id not in machine
    with pytest.raises(KeyError):
        machine.state(record_id)

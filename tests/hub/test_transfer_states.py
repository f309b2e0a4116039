"""The archive transfer's state machine, walked over the whole table: every (state, event, role)."""

from __future__ import annotations

import itertools

import pytest

from hub.errors import HubError
from hub.transfer_states import (
    EVENTS_NEEDING_REASON,
    FINAL_STATES,
    SOURCE_VEHICLE_STATUS,
    TRANSITIONS,
    IllegalTransition,
    ReasonRequired,
    RoleNotAllowed,
    TransferEvent,
    TransferRole,
    TransferState,
    next_state,
)
from hub.vehicle_register import VehicleStatus

ALL = list(itertools.product(TransferState, TransferEvent, TransferRole))


@pytest.mark.parametrize(("state", "event", "role"), ALL, ids=lambda v: str(v))
def test_every_state_event_and_role_is_taken_or_refused_as_the_table_says(
    state: TransferState, event: TransferEvent, role: TransferRole
) -> None:
    entry = TRANSITIONS.get((state, event))
    reason = "the bag's record 3 does not verify" if event in EVENTS_NEEDING_REASON else None
    if entry is None:
        with pytest.raises(IllegalTransition) as illegal:
            next_state(state, event, role, reason)
        assert (illegal.value.state, illegal.value.event) == (state, event)
        assert state.value in str(illegal.value) and event.value in str(illegal.value)
        return
    after, roles = entry
    if role not in roles:
        with pytest.raises(RoleNotAllowed) as forbidden:
            next_state(state, event, role, reason)
        assert forbidden.value.role is role
        assert role.value in str(forbidden.value) and state.value in str(forbidden.value)
        return
    transition = next_state(state, event, role, reason)
    assert (transition.before, transition.event, transition.after, transition.reason) == (
        state,
        event,
        after,
        reason,
    )
    assert transition.source_vehicle_status is SOURCE_VEHICLE_STATUS[after]


@pytest.mark.parametrize("key", sorted(k for k in TRANSITIONS if k[1] in EVENTS_NEEDING_REASON))
def test_refusing_or_expiring_without_a_reason_is_refused(key: tuple[TransferState, TransferEvent]) -> None:
    state, event = key
    role = sorted(TRANSITIONS[key][1])[0]
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequired) as missing:
            next_state(state, event, role, reason)
        assert isinstance(missing.value, HubError)
        assert f"{state.value}" in str(missing.value) and event.value in str(missing.value)


def test_a_reason_is_kept_only_for_the_ends_that_are_not_acceptance() -> None:
    assert (
        next_state(TransferState.REQUESTED, TransferEvent.START_SENDING, TransferRole.SOURCE_HUB, "x").reason
        is None
    )


def test_final_states_take_no_event_and_every_other_state_can_still_end() -> None:
    for state in TransferState:
        events = {event for (s, event) in TRANSITIONS if s is state}
        if state in FINAL_STATES:
            assert events == set()
        else:
            assert {TransferEvent.REFUSE, TransferEvent.EXPIRE} <= events


def test_the_happy_path_moves_the_vehicle_out_only_on_acceptance() -> None:
    path = [
        (TransferEvent.START_SENDING, TransferRole.SOURCE_HUB),
        (TransferEvent.ARCHIVE_VERIFIED, TransferRole.DESTINATION_HUB),
        (TransferEvent.IDENTITY_MATCHED, TransferRole.REGISTRY_CLERK),
        (TransferEvent.ACCEPT, TransferRole.REGISTRY_CLERK),
    ]
    state = TransferState.REQUESTED
    statuses = []
    for event, role in path:
        transition = next_state(state, event, role)
        state = transition.after
        statuses.append(transition.source_vehicle_status)
    assert state is TransferState.ACCEPTED
    assert statuses == [VehicleStatus.TRANSFERRING] * 3 + [VehicleStatus.TRANSFERRED_OUT]


def test_every_state_is_reachable_from_requested() -> None:
    reached = {TransferState.REQUESTED}
    frontier = [TransferState.REQUESTED]
    while frontier:
        state = frontier.pop()
        for (s, _), (after, _) in TRANSITIONS.items():
            if s is state and after not in reached:
                reached.add(after)
                frontier.append(after)
    assert reached == set(TransferState)
    assert set(SOURCE_VEHICLE_STATUS) == set(TransferState)

"""The review item table, walked whole: every (state, event, actor) either moves to the table's
state or raises ``IllegalReviewTransition`` naming state, event and actor."""

from __future__ import annotations

import itertools

import pytest

from hub.errors import HubError
from hub.review_states import (
    FINAL_STATES,
    TRANSITIONS,
    IllegalReviewTransition,
    ReviewActor,
    ReviewEvent,
    ReviewState,
    events_for,
    next_state,
)

S, E, A = ReviewState, ReviewEvent, ReviewActor

# The table written out once more by hand, so an edit to TRANSITIONS must be made twice on purpose.
EXPECTED = {
    (S.QUEUED, E.CLAIM, A.REVIEWER): S.CLAIMED,
    (S.QUEUED, E.CLAIM, A.SENIOR_REVIEWER): S.CLAIMED,
    (S.QUEUED, E.ESCALATE, A.HUB): S.ESCALATED,
    (S.CLAIMED, E.RELEASE, A.REVIEWER): S.QUEUED,
    (S.CLAIMED, E.RELEASE, A.SENIOR_REVIEWER): S.QUEUED,
    (S.CLAIMED, E.EXPIRE, A.HUB): S.QUEUED,
    (S.CLAIMED, E.APPROVE, A.REVIEWER): S.APPROVED,
    (S.CLAIMED, E.APPROVE, A.SENIOR_REVIEWER): S.APPROVED,
    (S.CLAIMED, E.REJECT, A.REVIEWER): S.REJECTED,
    (S.CLAIMED, E.REJECT, A.SENIOR_REVIEWER): S.REJECTED,
    (S.CLAIMED, E.ESCALATE, A.REVIEWER): S.ESCALATED,
    (S.CLAIMED, E.ESCALATE, A.SENIOR_REVIEWER): S.ESCALATED,
    (S.ESCALATED, E.CLAIM, A.SENIOR_REVIEWER): S.ESCALATED_CLAIMED,
    (S.ESCALATED_CLAIMED, E.RELEASE, A.SENIOR_REVIEWER): S.ESCALATED,
    (S.ESCALATED_CLAIMED, E.EXPIRE, A.HUB): S.ESCALATED,
    (S.ESCALATED_CLAIMED, E.APPROVE, A.SENIOR_REVIEWER): S.APPROVED,
    (S.ESCALATED_CLAIMED, E.REJECT, A.SENIOR_REVIEWER): S.REJECTED,
}

ALL = list(itertools.product(ReviewState, ReviewEvent, ReviewActor))


@pytest.mark.parametrize(("state", "event", "actor"), ALL, ids=lambda v: str(v))
def test_every_state_event_actor(state: ReviewState, event: ReviewEvent, actor: ReviewActor) -> None:
    expected = EXPECTED.get((state, event, actor))
    if expected is not None:
        assert next_state(state, event, actor) is expected
        assert event in events_for(state, actor)
        return
    with pytest.raises(IllegalReviewTransition) as raised:
        next_state(state, event, actor)
    message = str(raised.value)
    assert state.value in message and event.value in message and actor.value in message
    assert (raised.value.state, raised.value.event, raised.value.actor) == (state, event, actor)
    assert raised.value.by_role is ((state, event) in TRANSITIONS)
    assert isinstance(raised.value, HubError)
    assert event not in events_for(state, actor)


def test_the_table_is_exactly_the_expected_one() -> None:
    walked = {(s, e, a): t.to for (s, e), t in TRANSITIONS.items() for a in t.actors}
    assert walked == EXPECTED


def test_final_states_have_no_way_out_and_every_open_state_is_reachable_and_can_end() -> None:
    assert not any(s in FINAL_STATES for (s, _e) in TRANSITIONS)
    reachable = {S.QUEUED}
    frontier = [S.QUEUED]
    while frontier:
        state = frontier.pop()
        for (s, _e), t in TRANSITIONS.items():
            if s is state and t.to not in reachable:
                reachable.add(t.to)
                frontier.append(t.to)
    assert reachable == set(ReviewState)


def test_a_refusal_says_why() -> None:
    with pytest.raises(IllegalReviewTransition, match="only senior-reviewer may do this"):
        next_state(S.ESCALATED, E.CLAIM, A.REVIEWER)
    with pytest.raises(IllegalReviewTransition, match="nothing, it is final"):
        next_state(S.APPROVED, E.REJECT, A.SENIOR_REVIEWER)

"""The life of one review item as a table: which event moves it from which state to which, and who
may send that event.

Theory of operation
-------------------
An item is QUEUED when the screener (``hub.review_queue``) finds a flag on a record or samples it.
A reviewer CLAIMs it (a lease: the claim EXPIREs if the reviewer neither decides nor RELEASEs it in
time) and APPROVEs or REJECTs it, or ESCALATEs it to a senior reviewer. An item nobody claimed
before its deadline is ESCALATEd by the hub itself. Escalated items are claimed and decided only by
senior reviewers. APPROVED and REJECTED are final.

Two rules for this file (as in h11's ``_state.py``):

1. Everything about which transition is legal lives in ``TRANSITIONS``; code elsewhere asks
   ``next_state`` and never compares states itself to decide whether something may happen.
2. No I/O, no clock, no database: the queue reads the state, asks this table, and writes the
   answer in the same transaction (with a compare-and-set on the state it read).

Whether the person sending an event is the one holding the claim is the queue's question, not a
role's: it is checked there, beside the lease.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.errors import HubError


class ReviewState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    ESCALATED_CLAIMED = "escalated_claimed"  # claimed by a senior reviewer
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewEvent(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    EXPIRE = "expire"  # the claim's lease ran out
    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"  # by a reviewer, or by the hub when the deadline passed unclaimed


class ReviewActor(StrEnum):
    """Who sends an event: a person by the role in their certificate, or the hub's own clock."""

    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior-reviewer"
    HUB = "hub"  # lease expiry and deadline escalation


FINAL_STATES = frozenset({ReviewState.APPROVED, ReviewState.REJECTED})
OPEN_STATES = frozenset(ReviewState) - FINAL_STATES
CLAIMED_STATES = frozenset({ReviewState.CLAIMED, ReviewState.ESCALATED_CLAIMED})


@dataclass(frozen=True, slots=True)
class Transition:
    to: ReviewState
    actors: frozenset[ReviewActor]


_PEOPLE = frozenset({ReviewActor.REVIEWER, ReviewActor.SENIOR_REVIEWER})
_SENIOR = frozenset({ReviewActor.SENIOR_REVIEWER})
_HUB = frozenset({ReviewActor.HUB})

S, E = ReviewState, ReviewEvent
TRANSITIONS: Mapping[tuple[ReviewState, ReviewEvent], Transition] = {
    (S.QUEUED, E.CLAIM): Transition(S.CLAIMED, _PEOPLE),
    (S.QUEUED, E.ESCALATE): Transition(S.ESCALATED, _HUB),  # deadline passed, nobody claimed it
    (S.CLAIMED, E.RELEASE): Transition(S.QUEUED, _PEOPLE),
    (S.CLAIMED, E.EXPIRE): Transition(S.QUEUED, _HUB),
    (S.CLAIMED, E.APPROVE): Transition(S.APPROVED, _PEOPLE),
    (S.CLAIMED, E.REJECT): Transition(S.REJECTED, _PEOPLE),
    (S.CLAIMED, E.ESCALATE): Transition(S.ESCALATED, _PEOPLE),  # "a senior should decide this"
    (S.ESCALATED, E.CLAIM): Transition(S.ESCALATED_CLAIMED, _SENIOR),
    (S.ESCALATED_CLAIMED, E.RELEASE): Transition(S.ESCALATED, _SENIOR),
    (S.ESCALATED_CLAIMED, E.EXPIRE): Transition(S.ESCALATED, _HUB),
    (S.ESCALATED_CLAIMED, E.APPROVE): Transition(S.APPROVED, _SENIOR),
    (S.ESCALATED_CLAIMED, E.REJECT): Transition(S.REJECTED, _SENIOR),
}
del S, E


class IllegalReviewTransition(HubError):
    """An event the table does not allow in a state, or not for the actor sending it."""

    def __init__(
        self, state: ReviewState, event: ReviewEvent, actor: ReviewActor, why: str, *, by_role: bool = False
    ) -> None:
        super().__init__(f"review item in state {state.value!r}: {event.value!r} by {actor.value}: {why}")
        self.state = state
        self.event = event
        self.actor = actor
        self.by_role = by_role  # the state allows the event, the actor's role does not


def next_state(state: ReviewState, event: ReviewEvent, actor: ReviewActor) -> ReviewState:
    """The state ``event`` by ``actor`` moves an item in ``state`` to; raises ``IllegalReviewTransition``."""
    transition = TRANSITIONS.get((state, event))
    if transition is None:
        allowed = sorted(e.value for (s, e) in TRANSITIONS if s is state)
        why = f"not allowed in this state (allowed: {', '.join(allowed) or 'nothing, it is final'})"
        raise IllegalReviewTransition(state, event, actor, why)
    if actor not in transition.actors:
        accepted = ", ".join(sorted(a.value for a in transition.actors))
        raise IllegalReviewTransition(state, event, actor, f"only {accepted} may do this", by_role=True)
    return transition.to


def events_for(state: ReviewState, actor: ReviewActor) -> frozenset[ReviewEvent]:
    """What ``actor`` may do to an item in ``state`` (for showing choices; ``next_state`` decides)."""
    return frozenset(e for (s, e), t in TRANSITIONS.items() if s is state and actor in t.actors)

"""The lane's state machine: every visit's state, the one table of legal moves, and the lane's rules.

Theory of operation
-------------------
Each vehicle that checks in gets a *visit*, named by its record id. A visit moves through the lane
in one fixed order::

    WAITING -> CHECKING_IN -> BRAKE -> HEADLIGHT -> EMISSION -> VISUAL -> COMPLETING -> COMPLETE
                    \\___________\\________\\___________\\_________\\-> ABORTED
                      (a bench or procedure failed, an inspector aborted the visit, or it expired)

``LaneStateMachine`` holds the state of every visit a lane knows and answers two questions: may
this event happen to that visit now (``check``), and what is its state once it has (``fire``).
Beside the table it keeps the lane's one rule between visits: at most one visit is on the benches
(CHECKING_IN to EMISSION) at a time (``check_in`` raises ``LaneBusy`` naming the one that is).
A bench failure is an event only while a visit is on the benches (the table has no
BENCH_FAILED after EMISSION), so a late error from a cancelled bench run is refused, never
recorded over an inspector's abort.

Two rules for this file, as in h11's ``_state.py``:
1. every legal move is in ``TRANSITIONS`` below, and a state changes only through
   ``LaneStateMachine.fire``, which raises ``IllegalTransition`` naming event, state and record
   for anything else;
2. nothing here waits, reads a clock, logs or touches a bench: the async runner
   (``station_agent.lane``) feeds events in and acts on the states that come out, so every
   transition is tested here without a simulator (``tests/station_agent/lane/test_lane_state_machine.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from station_agent.errors import IllegalTransition, LaneBusy


class LaneState(StrEnum):
    WAITING = "waiting"
    CHECKING_IN = "checking_in"
    BRAKE = "brake"
    HEADLIGHT = "headlight"
    EMISSION = "emission"
    VISUAL = "visual"
    COMPLETING = "completing"
    COMPLETE = "complete"
    ABORTED = "aborted"


class LaneEvent(StrEnum):
    CHECK_IN = "check_in"
    CHECKED_IN = "checked_in"
    BRAKE_DONE = "brake_done"
    HEADLIGHT_DONE = "headlight_done"
    EMISSION_DONE = "emission_done"
    SUBMIT_CHECKS = "submit_checks"
    ADD_PHOTO = "add_photo"
    COMPLETE = "complete"
    SUBMITTED = "submitted"
    SUBMIT_FAILED = "submit_failed"
    BENCH_FAILED = "bench_failed"
    EXPIRED = "expired"  # left open (benches done, never completed) for longer than the lane keeps it
    ABORT = "abort"  # an inspector ended the visit (stuck on a bench, vehicle gone); nothing is signed


S, E = LaneState, LaneEvent
# While a visit is open, checks and photos leave its state unchanged, and an inspector may abort it.
_PDA_EVENTS = (E.SUBMIT_CHECKS, E.ADD_PHOTO)


def _open(state: LaneState, moves: dict[LaneEvent, LaneState]) -> dict[LaneEvent, LaneState]:
    return {**{event: state for event in _PDA_EVENTS}, LaneEvent.ABORT: LaneState.ABORTED, **moves}


# Every legal transition: state -> event -> next state. Anything not here is an IllegalTransition.
TRANSITIONS: dict[LaneState, dict[LaneEvent, LaneState]] = {
    S.WAITING: {E.CHECK_IN: S.CHECKING_IN},
    S.CHECKING_IN: _open(S.CHECKING_IN, {E.CHECKED_IN: S.BRAKE, E.BENCH_FAILED: S.ABORTED}),
    S.BRAKE: _open(S.BRAKE, {E.BRAKE_DONE: S.HEADLIGHT, E.BENCH_FAILED: S.ABORTED}),
    S.HEADLIGHT: _open(S.HEADLIGHT, {E.HEADLIGHT_DONE: S.EMISSION, E.BENCH_FAILED: S.ABORTED}),
    S.EMISSION: _open(S.EMISSION, {E.EMISSION_DONE: S.VISUAL, E.BENCH_FAILED: S.ABORTED}),
    S.VISUAL: _open(S.VISUAL, {E.COMPLETE: S.COMPLETING, E.EXPIRED: S.ABORTED}),
    S.COMPLETING: {E.SUBMITTED: S.COMPLETE, E.SUBMIT_FAILED: S.VISUAL},
    S.COMPLETE: {},
    S.ABORTED: {},
}
del S, E

# States in which a visit occupies the benches.
ON_BENCHES = frozenset({LaneState.CHECKING_IN, LaneState.BRAKE, LaneState.HEADLIGHT, LaneState.EMISSION})
FINAL = frozenset({LaneState.COMPLETE, LaneState.ABORTED})


def next_state(state: LaneState, event: LaneEvent, record_id: uuid.UUID) -> LaneState:
    """The table's answer for one visit; ``IllegalTransition`` if the table has none."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(event, state, record_id) from None


@dataclass(frozen=True, slots=True)
class Transition:
    """``event`` took visit ``record_id`` from ``old`` to ``new`` (the same state for checks and photos)."""

    record_id: uuid.UUID
    event: LaneEvent
    old: LaneState
    new: LaneState

    @property
    def changed(self) -> bool:
        return self.new is not self.old


class LaneStateMachine:
    """The state of every visit one lane holds. A visit unknown here is a ``KeyError``: naming it to
    the caller (``UnknownRecord``) is the runner's business, which knows what it was asked for."""

    def __init__(self) -> None:
        self._states: dict[uuid.UUID, LaneState] = {}

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._states

    def __iter__(self) -> Iterator[uuid.UUID]:
        return iter(self._states)

    def state(self, record_id: uuid.UUID) -> LaneState:
        return self._states[record_id]

    @property
    def on_benches(self) -> uuid.UUID | None:
        """The visit on the benches, if any (at most one, by ``check_in``)."""
        return next((rid for rid, state in self._states.items() if state in ON_BENCHES), None)

    def ensure_benches_free(self) -> None:
        """``LaneBusy`` naming the visit on the benches, if there is one."""
        busy = self.on_benches
        if busy is not None:
            raise LaneBusy(busy, self._states[busy])

    def check_in(self, record_id: uuid.UUID) -> Transition:
        """A new visit, straight onto the benches; ``LaneBusy`` while another one is on them."""
        if record_id in self._states:
            raise ValueError(f"record {record_id} has checked in already")
        self.ensure_benches_free()
        new = next_state(LaneState.WAITING, LaneEvent.CHECK_IN, record_id)
        self._states[record_id] = new
        return Transition(record_id, LaneEvent.CHECK_IN, LaneState.WAITING, new)

    def check(self, record_id: uuid.UUID, event: LaneEvent) -> LaneState:
        """The state ``event`` would lead to, changing nothing (``IllegalTransition`` if none)."""
        return next_state(self._states[record_id], event, record_id)

    def fire(self, record_id: uuid.UUID, event: LaneEvent) -> Transition:
        old = self._states[record_id]
        new = next_state(old, event, record_id)
        self._states[record_id] = new
        return Transition(record_id, event, old, new)

    def finished(self) -> list[uuid.UUID]:
        """Visits in a final state, oldest check-in first."""
        return [rid for rid, state in self._states.items() if state in FINAL]

    def forget(self, record_id: uuid.UUID) -> None:
        del self._states[record_id]

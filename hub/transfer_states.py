"""The states of an archive transfer (异地转籍) between two province hubs, as a table; no I/O.

Theory of operation
-------------------
A transfer moves one vehicle's whole file from the source province's hub to the destination's.
It starts REQUESTED (a registry clerk at the destination asks for the vehicle), goes SENDING (the
source hub has marked the vehicle ``transferring`` and streams the archive), RECEIVED (the
destination hub has the whole bag and it verified), IDENTITY_CHECKED (the clerk has seen the car
and it matches the archive) and ends ACCEPTED. At any step before the end it may instead end
REFUSED or EXPIRED, always with a reason. The three ends are final: no event leaves them.

Who may cause an event depends on the state it happens in (``TRANSITIONS`` pairs each (state,
event) with the roles allowed): the source hub may refuse a request (the vehicle is not
transferable) but not an archive already on its way; the destination hub refuses a bag that does
not verify; only the clerk checks identity and accepts.

``SOURCE_VEHICLE_STATUS`` says which register status the vehicle must have at the source once a
transfer is in a state, so that the vehicle belongs to exactly one province at every moment:
``transferring`` from SENDING until the end, ``transferred_out`` only on ACCEPTED, back to
``active`` on REFUSED or EXPIRED. The caller applies it with ``VehicleRegister.set_status``
(compare-and-set: a second transfer of a vehicle already transferring finds it not ``active``).

Two rules for this file (after h11's ``_state.py``):
1. Only the table and the pure functions that read it live here: no database, no gRPC, no clock.
2. Every transition is in ``TRANSITIONS``; code elsewhere never compares states to decide what
   may happen next, it calls ``next_state``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from hub.errors import HubError
from hub.vehicle_register import VehicleStatus


class TransferState(StrEnum):
    REQUESTED = "requested"
    SENDING = "sending"
    RECEIVED = "received"
    IDENTITY_CHECKED = "identity_checked"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"


class TransferEvent(StrEnum):
    START_SENDING = "start_sending"  # the source marked the vehicle transferring and sends
    ARCHIVE_VERIFIED = "archive_verified"  # the destination holds the whole bag and it verified
    IDENTITY_MATCHED = "identity_matched"  # the clerk saw the car: VIN, engine number, colour match
    ACCEPT = "accept"
    REFUSE = "refuse"
    EXPIRE = "expire"


class TransferRole(StrEnum):
    SOURCE_HUB = "source_hub"
    DESTINATION_HUB = "destination_hub"
    REGISTRY_CLERK = "registry_clerk"  # at the destination's registry office


FINAL_STATES = frozenset({TransferState.ACCEPTED, TransferState.REFUSED, TransferState.EXPIRED})
# Events that end a transfer without it succeeding must say why.
EVENTS_NEEDING_REASON = frozenset({TransferEvent.REFUSE, TransferEvent.EXPIRE})

_S, _E, _R = TransferState, TransferEvent, TransferRole
_HUBS = frozenset({_R.SOURCE_HUB, _R.DESTINATION_HUB})

# (state, event) -> (next state, roles allowed to cause it). Everything not here is illegal.
TRANSITIONS: Mapping[tuple[TransferState, TransferEvent], tuple[TransferState, frozenset[TransferRole]]] = (
    MappingProxyType(
        {
            (_S.REQUESTED, _E.START_SENDING): (_S.SENDING, frozenset({_R.SOURCE_HUB})),
            (_S.REQUESTED, _E.REFUSE): (_S.REFUSED, frozenset({_R.SOURCE_HUB, _R.REGISTRY_CLERK})),
            (_S.REQUESTED, _E.EXPIRE): (_S.EXPIRED, _HUBS),
            (_S.SENDING, _E.ARCHIVE_VERIFIED): (_S.RECEIVED, frozenset({_R.DESTINATION_HUB})),
            # A bag that does not verify (missing, extra or altered item, wrong destination).
            (_S.SENDING, _E.REFUSE): (_S.REFUSED, frozenset({_R.DESTINATION_HUB})),
            (_S.SENDING, _E.EXPIRE): (_S.EXPIRED, _HUBS),
            (_S.RECEIVED, _E.IDENTITY_MATCHED): (_S.IDENTITY_CHECKED, frozenset({_R.REGISTRY_CLERK})),
            (_S.RECEIVED, _E.REFUSE): (_S.REFUSED, frozenset({_R.DESTINATION_HUB, _R.REGISTRY_CLERK})),
            (_S.RECEIVED, _E.EXPIRE): (_S.EXPIRED, _HUBS),
            (_S.IDENTITY_CHECKED, _E.ACCEPT): (_S.ACCEPTED, frozenset({_R.REGISTRY_CLERK})),
            (_S.IDENTITY_CHECKED, _E.REFUSE): (_S.REFUSED, frozenset({_R.REGISTRY_CLERK})),
            (_S.IDENTITY_CHECKED, _E.EXPIRE): (_S.EXPIRED, _HUBS),
        }
    )
)

# The source register's status for the vehicle once the transfer is in each state.
SOURCE_VEHICLE_STATUS: Mapping[TransferState, VehicleStatus] = MappingProxyType(
    {
        _S.REQUESTED: VehicleStatus.ACTIVE,
        _S.SENDING: VehicleStatus.TRANSFERRING,
        _S.RECEIVED: VehicleStatus.TRANSFERRING,
        _S.IDENTITY_CHECKED: VehicleStatus.TRANSFERRING,
        _S.ACCEPTED: VehicleStatus.TRANSFERRED_OUT,
        _S.REFUSED: VehicleStatus.ACTIVE,
        _S.EXPIRED: VehicleStatus.ACTIVE,
    }
)


class TransferStateError(HubError):
    """An event the transfer state machine will not take; subclasses say why."""

    def __init__(self, message: str, state: TransferState, event: TransferEvent) -> None:
        super().__init__(message)
        self.state = state
        self.event = event


class IllegalTransition(TransferStateError):
    def __init__(self, state: TransferState, event: TransferEvent) -> None:
        allowed = sorted(e.value for s, e in TRANSITIONS if s is state)
        super().__init__(
            f"transfer in state {state.value}: event {event.value} is not allowed "
            f"(allowed: {', '.join(allowed) or 'none, the state is final'})",
            state,
            event,
        )


class RoleNotAllowed(TransferStateError):
    def __init__(self, state: TransferState, event: TransferEvent, role: TransferRole) -> None:
        roles = sorted(r.value for r in TRANSITIONS[state, event][1])
        super().__init__(
            f"transfer in state {state.value}: event {event.value} may not be caused by {role.value} "
            f"(only by {', '.join(roles)})",
            state,
            event,
        )
        self.role = role


class ReasonRequired(TransferStateError):
    def __init__(self, state: TransferState, event: TransferEvent) -> None:
        super().__init__(f"transfer in state {state.value}: event {event.value} needs a reason", state, event)


@dataclass(frozen=True, slots=True)
class Transition:
    """What taking an event does: the state before and after, and the reason (refuse, expire)."""

    before: TransferState
    event: TransferEvent
    after: TransferState
    role: TransferRole
    reason: str | None

    @property
    def source_vehicle_status(self) -> VehicleStatus:
        return SOURCE_VEHICLE_STATUS[self.after]


def next_state(
    state: TransferState, event: TransferEvent, role: TransferRole, reason: str | None = None
) -> Transition:
    """The transition ``role`` causes by ``event`` in ``state``; a ``TransferStateError`` if none."""
    entry = TRANSITIONS.get((state, event))
    if entry is None:
        raise IllegalTransition(state, event)
    after, roles = entry
    if role not in roles:
        raise RoleNotAllowed(state, event, role)
    if event in EVENTS_NEEDING_REASON:
        if reason is None or not reason.strip():
            raise ReasonRequired(state, event)
    else:
        reason = None  # a reason belongs only to the ends that are not acceptance
    return Transition(state, event, after, role, reason)

"""The hub-to-hub half of an exemption application (hub.exemption), transport aside.

Registration side: ``facts_reply`` answers a peer's question about one of this province's
vehicles; ``record_peer_label`` records the label a peer signed, after checking it the way a
roadside verifier would (signature of a hub in the trust list, an exemption label for a vehicle
registered here) and that its due point is a label due point of that vehicle whose window
contains the label's first day, so a peer can neither plant a label nor dodge the
one-label-per-due-point rule with an invented date.

Serving side: ``RemoteRegistration`` is the ``RegistrationHub`` of a vehicle registered in
another province, speaking through any stub with the two PeerExchange methods.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from elabel.claims import LabelType
from elabel.errors import LabelInvalid
from elabel.trust_cache import TrustCache
from elabel.verifier import signed_claims
from hub.errors import HubError, UnknownVehicle
from hub.exemption import ExemptionLabel, LabelledVehicle, labelled
from hub.label_book import LabelRegistry, StoredLabel
from hub.vehicle_register import VehicleRegister
from hub.vehicle_standing import StandingBook, exemption_facts
from inspection.exemption_rules import ExemptionFacts
from inspection.inspection_schedule import DueKind, ScheduledVehicle, position_on
from inspection.vehicle import VehicleClass, VehicleUse
from protos.tongjian.v1 import labels_pb2


class ExemptionExchangeError(HubError):
    """A peer's exemption message that this hub will not act on; the message says why."""


# ---------------------------------------------------------------- facts


def facts_to_proto(vehicle: LabelledVehicle, facts: ExemptionFacts) -> labels_pb2.ExemptionFacts:
    scheduled = facts.vehicle
    return labels_pb2.ExemptionFacts(
        vin=vehicle.vin,
        plate=vehicle.plate,
        vehicle_class=vehicle.vehicle_class.value,
        use=scheduled.use.value,
        seats=scheduled.seats,
        van=scheduled.van,
        registration_date=scheduled.registration_date.isoformat(),
        insurance_valid_until=facts.insurance_valid_until.isoformat() if facts.insurance_valid_until else "",
        vehicle_tax_paid=facts.vehicle_tax_paid,
        unresolved_violations=facts.unresolved_violations,
        unresolved_accidents=facts.unresolved_accidents,
        casualty_accident=facts.casualty_accident,
    )


def facts_from_proto(message: labels_pb2.ExemptionFacts) -> tuple[LabelledVehicle, ExemptionFacts]:
    try:
        vehicle_class = VehicleClass(message.vehicle_class)
        use = VehicleUse(message.use)
        registered = date.fromisoformat(message.registration_date)
        insured = date.fromisoformat(message.insurance_valid_until) if message.insurance_valid_until else None
    except ValueError as exc:
        raise ExemptionExchangeError(
            f"the registration hub's facts of {message.vin!r} do not read: {exc}"
        ) from exc
    vehicle = LabelledVehicle(message.vin, message.plate, vehicle_class)
    facts = ExemptionFacts(
        vehicle=ScheduledVehicle(vehicle_class, use, message.seats, message.van, registered),
        casualty_accident=message.casualty_accident,
        insurance_valid_until=insured,
        vehicle_tax_paid=message.vehicle_tax_paid,
        unresolved_violations=message.unresolved_violations,
        unresolved_accidents=message.unresolved_accidents,
    )
    return vehicle, facts


def facts_reply(register: VehicleRegister, standing: StandingBook, vin: str) -> labels_pb2.ExemptionFacts:
    """Registration side; ``UnknownVehicle`` when ``vin`` is not registered here."""
    registered, facts = exemption_facts(register, standing, vin.strip().upper())
    return facts_to_proto(labelled(registered), facts)


# ---------------------------------------------------------------- recording a peer's label


def record_peer_label(
    labels: LabelRegistry, register: VehicleRegister, trust: TrustCache, token: str, due_text: str
) -> StoredLabel:
    """Registration side: check and record a label a peer hub signed; the label stored for its due point."""
    try:
        claims, key = signed_claims(token, trust)
    except LabelInvalid as exc:
        raise ExemptionExchangeError(f"the label does not verify: {exc}") from exc
    if claims.label_type is not LabelType.EXEMPTION:
        raise ExemptionExchangeError(f"label {claims.serial} is an {claims.label_type.value} label")
    registered = register.get(claims.vin)
    if registered is None:
        raise UnknownVehicle(claims.vin)
    try:
        due = date.fromisoformat(due_text)
    except ValueError as exc:
        raise ExemptionExchangeError(f"due_date {due_text!r} is not YYYY-MM-DD") from exc
    vehicle = registered.vehicle
    scheduled = ScheduledVehicle(
        vehicle.vehicle_class, vehicle.use, vehicle.seats, vehicle.van, vehicle.registration_date
    )
    position = position_on(scheduled, claims.valid_from)
    current = position.current
    if current is None or current.kind is not DueKind.LABEL or current.due != due:
        raise ExemptionExchangeError(
            f"label {claims.serial}: {due.isoformat()} is not the label due point open on {claims.valid_from}"
        )
    if claims.valid_until != position.following.due:
        raise ExemptionExchangeError(
            f"label {claims.serial}: valid until {claims.valid_until}, the next due date is {position.following.due}"
        )
    return labels.record_exemption(claims, token, key.kid, due)


# ---------------------------------------------------------------- the serving side


class RemoteRegistration:
    """The ``RegistrationHub`` of a vehicle registered in another province: ``stub`` is a
    grpc.aio PeerExchange stub (GetExemptionFacts, RecordExemptionLabel) on the link to its hub."""

    def __init__(self, stub: Any, trust: Callable[[], TrustCache], timeout_s: float = 10.0) -> None:
        self._stub = stub
        self._trust = trust
        self._timeout = timeout_s

    async def facts(self, vin: str) -> tuple[LabelledVehicle, ExemptionFacts]:
        request = labels_pb2.ExemptionFactsRequest(vin=vin)
        reply = await self._stub.GetExemptionFacts(request, timeout=self._timeout)
        vehicle, facts = facts_from_proto(reply)
        if vehicle.vin != vin:
            raise ExemptionExchangeError(
                f"asked for the facts of {vin}, the registration hub answered {vehicle.vin}"
            )
        return vehicle, facts

    async def record(self, label: ExemptionLabel, token: str, kid: bytes) -> StoredLabel:
        request = labels_pb2.ExemptionLabelRecord(token=token, due_date=label.due.isoformat())
        reply = await self._stub.RecordExemptionLabel(request, timeout=self._timeout)
        try:
            claims, _ = signed_claims(reply.token, self._trust())
        except LabelInvalid as exc:
            raise ExemptionExchangeError(
                f"the registration hub's recorded label does not verify: {exc}"
            ) from exc
        if claims.vin != label.claims.vin:
            raise ExemptionExchangeError(f"recorded a label of {claims.vin}, not {label.claims.vin}")
        return StoredLabel(claims, reply.token, None, None, None)

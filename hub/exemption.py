"""Applying for an exemption label: gather the facts, decide with the pure rules, sign, record.

``exemption_label`` is pure: from the facts and the vehicle's identity it gives the decision
and, when granted, the label claims and the due point the label answers. ``ExemptionDesk``
drives one application at a hub. It takes the facts and the recording from a
``RegistrationHub``, which is this hub's own store (``LocalRegistration``) when the vehicle is
registered here, and the federation link to the registration province's hub otherwise. The
registration hub records the label at most once per vehicle and due point
(``uq_labels_exemption_due``): an application sent twice, or retried after a dropped link, gets
the label recorded the first time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from elabel.claims import CHINA_TIME, LabelClaims, LabelType
from elabel.label_text import sign_label
from hub.label_book import LabelBook, LabelRegistry, StoredLabel, exemption_serial
from hub.vehicle_register import RegisteredVehicle, VehicleRegister
from hub.vehicle_standing import StandingBook, exemption_facts
from inspection.exemption_rules import ExemptionDecision, ExemptionFacts, decide_exemption
from inspection.vehicle import VehicleClass


@dataclass(frozen=True, slots=True)
class LabelledVehicle:
    """Who the label names: what the registration hub tells besides the facts."""

    vin: str
    plate: str
    vehicle_class: VehicleClass


def labelled(registered: RegisteredVehicle) -> LabelledVehicle:
    vehicle = registered.vehicle
    return LabelledVehicle(vehicle.vin, vehicle.plate, vehicle.vehicle_class)


@dataclass(frozen=True, slots=True)
class ExemptionLabel:
    claims: LabelClaims
    due: date


def exemption_label(
    facts: ExemptionFacts,
    vehicle: LabelledVehicle,
    application_date: date,
    issuer_province: str,
    issued_at: datetime,
) -> tuple[ExemptionDecision, ExemptionLabel | None]:
    decision = decide_exemption(facts, application_date)
    if not decision.granted:
        return decision, None
    assert decision.due_point is not None and decision.valid_until is not None  # granted
    due = decision.due_point.due
    claims = LabelClaims(
        label_type=LabelType.EXEMPTION,
        vin=vehicle.vin,
        plate=vehicle.plate,
        vehicle_class=vehicle.vehicle_class,
        valid_from=application_date,
        valid_until=decision.valid_until,
        issuer_province=issuer_province,
        serial=exemption_serial(issuer_province, vehicle.vin, due),
        issued_at=issued_at.replace(microsecond=0),
    )
    return decision, ExemptionLabel(claims, due)


class RegistrationHub(Protocol):
    """What the serving hub needs from the vehicle's registration hub."""

    async def facts(self, vin: str) -> tuple[LabelledVehicle, ExemptionFacts]: ...

    async def record(self, label: ExemptionLabel, token: str, kid: bytes) -> StoredLabel: ...


class LocalRegistration:
    """The vehicle is registered at this hub: its own register, standing and labels table."""

    def __init__(self, register: VehicleRegister, standing: StandingBook, labels: LabelRegistry) -> None:
        self._register = register
        self._standing = standing
        self._labels = labels

    async def facts(self, vin: str) -> tuple[LabelledVehicle, ExemptionFacts]:
        registered, facts = await asyncio.to_thread(exemption_facts, self._register, self._standing, vin)
        return labelled(registered), facts

    async def record(self, label: ExemptionLabel, token: str, kid: bytes) -> StoredLabel:
        return await asyncio.to_thread(self._labels.record_exemption, label.claims, token, kid, label.due)


@dataclass(frozen=True, slots=True)
class ExemptionOutcome:
    decision: ExemptionDecision
    label: StoredLabel | None  # the label recorded for the due point (maybe an earlier one)


class ExemptionDesk:
    def __init__(self, book: LabelBook, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._book = book
        self._clock = clock

    async def apply(
        self, vin: str, registration: RegistrationHub, application_date: date | None = None
    ) -> ExemptionOutcome:
        now = self._clock()
        day = application_date or now.astimezone(CHINA_TIME).date()
        registered, facts = await registration.facts(vin.strip().upper())
        decision, label = exemption_label(facts, registered, day, self._book.key.province, now)
        if label is None:
            return ExemptionOutcome(decision, None)
        token = sign_label(label.claims, self._book.key)
        recorded = await registration.record(label, token, self._book.key.kid)
        if recorded.claims.issuer_province == self._book.key.province:
            # Our own label (this time or an earlier one): keep it in our book too, so that we
            # can revoke it and list it; the registration hub keeps the authoritative record.
            await asyncio.to_thread(
                self._book.record_exemption, recorded.claims, recorded.token, self._book.key.kid, label.due
            )
        return ExemptionOutcome(decision, recorded)

"""Labels for passed records (once, also from two replicas), revocation and the signed list,
exemption labels stored once; the hub's tokens verify with pycose and with the offline verifier."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import base45
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycose.keys import OKPKey
from pycose.messages import Sign1Message
from sqlalchemy import select

from elabel.claims import LabelClaims, LabelType
from elabel.errors import LabelFault
from elabel.keys import HubLabelKey
from elabel.label_text import PREFIX
from elabel.revocation import read_revocation_list
from elabel.trust_cache import HubKey, TrustCache
from elabel.verifier import check_label
from hub.errors import UnknownLabel
from hub.label_book import LABEL_REVOKED, LabelBook, exemption_serial
from hub.label_issuer import LabelIssuer
from hub.models import LabelIssuerCursor
from hub.server import HubServer
from inspection import BrakeKind, InspectionRecord, VehicleClass, Verdict
from inspection.measurements import BrakeTest
from inspection.verdicts import DEFAULT_LIMITS, judge_brakes

pytestmark = pytest.mark.asyncio


def brakes_only(record: InspectionRecord) -> Verdict:
    """The standards' brake rules alone: the test records carry brakes, not lamps or emission."""
    return Verdict(tuple(judge_brakes(record.vehicle, record.axles, DEFAULT_LIMITS)))


def with_parking_brake(record: InspectionRecord) -> InspectionRecord:
    parking = BrakeTest(BrakeKind.PARKING, 1500.0, 1400.0, None, None, False, False, None, 8)
    rear = dataclasses.replace(record.axles[1], parking=parking)
    return dataclasses.replace(record, axles=(record.axles[0], rear))


def weak(record: InspectionRecord) -> InspectionRecord:
    service = dataclasses.replace(record.axles[1].service, left_max_n=150.0, right_max_n=140.0)
    return dataclasses.replace(
        record, axles=(record.axles[0], dataclasses.replace(record.axles[1], service=service))
    )


@pytest.fixture
def hub_key() -> HubLabelKey:
    return HubLabelKey("50", Ed25519PrivateKey.generate())


async def stored_hub(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, records: list[InspectionRecord]
) -> HubServer:
    records = [with_parking_brake(r) for r in records]
    hub = HubServer(hub_config(judge=brakes_only))
    await hub.start()
    station = enrol(hub, station_key)
    acks = (await submit(hub.port, [station.seal(r) for r in records])).acks
    assert len(acks) == len(records)
    return hub


def later(hours: float = 1.0) -> Any:
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


async def test_each_passed_record_gets_one_label_valid_to_its_next_due_date(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    records = [make_record(0), weak(make_record(1)), make_record(2)]
    hub = await stored_hub(hub_config, enrol, submit, station_key, records)
    try:
        book = LabelBook(hub.store.database, hub_key, clock=later())
        first = book.issue_pending()
        assert (first.scanned, first.issued) == (2, 2)  # the weak one wants no label
        again = book.issue_pending()
        assert (again.scanned, again.issued) == (0, 0) and again.cursor == first.cursor
        labels = book.by_vin(records[0].vehicle.vin) + book.by_vin(records[1].vehicle.vin)
        assert [label.claims.vin for label in labels] == [records[0].vehicle.vin]
        claims = labels[0].claims
        # Registered 2020-05-01, passed 2026-11-01 (the year-6 lane point): valid to year 8.
        assert (claims.label_type, claims.valid_from, claims.valid_until) == (
            LabelType.INSPECTION,
            date(2026, 11, 1),
            date(2028, 5, 1),
        )
        assert claims.vehicle_class is VehicleClass.M1 and claims.plate == records[0].vehicle.plate
    finally:
        await hub.stop()


async def test_the_cursor_waits_for_records_to_settle_and_nothing_is_issued_twice(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    hub = await stored_hub(hub_config, enrol, submit, station_key, [make_record(0), make_record(1)])
    try:
        fresh = LabelBook(hub.store.database, hub_key, settle=timedelta(minutes=5))
        young = fresh.issue_pending()
        assert (young.issued, young.cursor) == (2, 0)  # labelled, but the cursor stays put
        assert fresh.issue_pending().issued == 0  # seen again: signed, not stored twice
        settled = LabelBook(hub.store.database, hub_key, clock=later()).issue_pending()
        assert settled.issued == 0 and settled.cursor > 0
    finally:
        await hub.stop()


async def test_more_young_records_than_a_batch_are_all_labelled_and_catching_up_ends(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    # A busy hub: more passed records inside the settle window than one batch. The passes used to
    # re-read the same first batch (the cursor waits for records to settle) and catch_up never
    # returned, while the records past that batch waited for the window to pass.
    records = [make_record(i) for i in range(10)]
    hub = await stored_hub(hub_config, enrol, submit, station_key, records)
    try:
        book = LabelBook(hub.store.database, hub_key, settle=timedelta(minutes=5))
        issuer = LabelIssuer(book, batch=4)
        assert await asyncio.wait_for(issuer.catch_up(), timeout=20) == 10
        assert all(len(book.by_vin(r.vehicle.vin)) == 1 for r in records)
        again = book.issue_pending(limit=4)
        assert (again.scanned, again.issued, again.cursor) == (0, 0, 0)  # none wanting, none settled
    finally:
        await hub.stop()


async def test_a_pass_stops_signing_when_its_time_is_up_and_the_cursor_waits_for_the_rest(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    # A label is about 1 ms of Python holding the GIL: a pass signing a second's worth at once
    # stalled the hub's Acks. With (almost) no time a pass signs one; the cursor, though every
    # record has settled, stops before the ones left.
    records = [make_record(i) for i in range(3)]
    hub = await stored_hub(hub_config, enrol, submit, station_key, records)
    try:
        book = LabelBook(hub.store.database, hub_key, clock=later())
        passes = [book.issue_pending(budget_s=1e-9) for _ in range(4)]
        assert [(p.scanned, p.issued, p.more) for p in passes] == [
            (1, 1, True),
            (1, 1, True),
            (1, 1, False),
            (0, 0, False),
        ]
        assert passes[0].cursor == 1 and passes[1].cursor == 2 and passes[2].cursor == passes[3].cursor == 3
        assert all(len(book.by_vin(r.vehicle.vin)) == 1 for r in records)
    finally:
        await hub.stop()


async def test_two_replicas_issuing_at_once_store_one_label_per_record(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    records = [make_record(i) for i in range(12)]
    hub = await stored_hub(hub_config, enrol, submit, station_key, records)
    try:
        books = [LabelBook(hub.store.database, hub_key, clock=later()) for _ in range(2)]
        issued: list[int] = []
        barrier = threading.Barrier(2)

        def run(book: LabelBook) -> None:
            barrier.wait()
            issued.append(sum(book.issue_pending(limit=4).issued for _ in range(4)))

        threads = [threading.Thread(target=run, args=(book,)) for book in books]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(issued) == 12
        assert sum(len(books[0].by_vin(r.vehicle.vin)) for r in records) == 12
    finally:
        await hub.stop()


async def test_revocation_is_audited_listed_signed_and_seen_by_the_offline_verifier(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    hub = await stored_hub(hub_config, enrol, submit, station_key, [make_record(0)])
    try:
        book = LabelBook(hub.store.database, hub_key, clock=later())
        book.issue_pending()
        label = book.by_vin(make_record(0).vehicle.vin)[0]
        cache = TrustCache((HubKey("50", hub_key.public_key),), {"50": book.signed_revocation_list()})
        at = datetime(2027, 1, 1, tzinfo=UTC)
        assert check_label(label.token, cache, at).valid

        record = make_record(0)
        assert book.revoke_for_record(record.station_id, "no-such-record", "x") is None
        revoked = book.revoke_for_record(
            record.station_id, str(record.record_id), "post-review rejected the record"
        )
        assert revoked is not None and revoked.claims.serial == label.claims.serial
        assert revoked.revoked_reason == "post-review rejected the record"
        again = book.revoke_label(label.claims.serial, "a second reason")
        assert again.revoked_at == revoked.revoked_at and again.revoked_reason == revoked.revoked_reason
        assert [e.kind for e in hub.store.audit_events(kind=LABEL_REVOKED)] == [LABEL_REVOKED]
        with pytest.raises(UnknownLabel, match="50-I-9"):
            book.revoke_label("50-I-9", "no such label")

        signed = book.signed_revocation_list()
        listing = read_revocation_list(signed, "50", hub_key.public_key)
        assert [r.serial for r in listing.revocations] == [label.claims.serial]
        check = check_label(
            label.token, dataclasses.replace(cache, signed_revocation_lists={"50": signed}), at
        )
        assert check.faults == (LabelFault.REVOKED,)
    finally:
        await hub.stop()


async def test_a_hub_token_verifies_with_pycose(
    hub_config: Any, enrol: Any, submit: Any, station_key: Any, make_record: Any, hub_key: HubLabelKey
) -> None:
    hub = await stored_hub(hub_config, enrol, submit, station_key, [make_record(0)])
    try:
        book = LabelBook(hub.store.database, hub_key, clock=later())
        book.issue_pending()
        token = book.by_vin(make_record(0).vehicle.vin)[0].token
        message = Sign1Message.decode(zlib.decompress(base45.b45decode(token[len(PREFIX) :])))
        message.key = OKPKey(crv="ED25519", x=hub_key.public_key)
        assert message.verify_signature()
    finally:
        await hub.stop()


async def test_an_exemption_decided_twice_is_stored_once(hub_config: Any, hub_key: HubLabelKey) -> None:
    async with HubServer(hub_config()) as hub:
        book = LabelBook(hub.store.database, hub_key)
        claims = LabelClaims(
            LabelType.EXEMPTION,
            "LSVAB4187ES123456",
            "渝A12345",
            VehicleClass.M1,
            date(2025, 2, 1),
            date(2027, 3, 15),
            "50",
            exemption_serial("50", "LSVAB4187ES123456", date(2025, 3, 15)),
            datetime(2025, 2, 1, tzinfo=UTC),
        )
        first = book.store_exemption(claims, date(2025, 3, 15))
        second = book.store_exemption(
            dataclasses.replace(claims, issued_at=datetime(2025, 2, 2, tzinfo=UTC)), date(2025, 3, 15)
        )
        assert second == first and len(book.by_vin(claims.vin)) == 1
        with hub.store.database.read() as session:
            assert session.scalars(select(LabelIssuerCursor.seq)).one() == 0

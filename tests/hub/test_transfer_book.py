"""Transfers in the database (``hub.transfer_book``), on the parametrized database: the source's
compare-and-set on the vehicle, a second transfer refused, expiry with its reason giving the car
back, every step audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.archive_stream import BagFile, Position
from hub.errors import HubError
from hub.store import HubStore
from hub.transfer_book import (
    End,
    LeaseLost,
    TransferAlreadyOpen,
    TransferBook,
    VehicleNotTransferable,
    lease_owner,
)
from hub.transfer_states import IllegalTransition, TransferRole, TransferState
from hub.vehicle_register import VehicleStatus
from inspection.vehicle_register_csv import RegisterRow

FILES = [BagFile("bagit.txt", 10), BagFile("data/vehicle.json", 90)]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    made = HubStore(database_url)
    made.migrate()
    try:
        yield made
    finally:
        made.dispose()


def _register(store: HubStore, make_record: Any) -> str:
    vehicle = make_record(0).vehicle
    report = store.vehicles.import_rows([RegisterRow(2, vehicle, "owner-1")], "50")
    assert report.inserted == 1
    return str(vehicle.vin)


def test_the_source_moves_the_car_with_the_transfer_and_refuses_a_second_one(
    store: HubStore, make_record: Any
) -> None:
    vin = _register(store, make_record)
    clock = Clock()
    book = TransferBook(store.database, store.vehicles, "50", clock, ttl=timedelta(days=30))
    first, created = book.open_outgoing(str(uuid.uuid4()), vin, "51", "clerk-51")
    assert created and first.state is TransferState.REQUESTED
    assert store.vehicles.get(vin).status is VehicleStatus.ACTIVE  # type: ignore[union-attr]
    sending = book.start_sending(first.transfer_id, "/bags/1", FILES, 100)
    assert sending.state is TransferState.SENDING and sending.old_plate == make_record(0).vehicle.plate
    assert store.vehicles.get(vin).status is VehicleStatus.TRANSFERRING  # type: ignore[union-attr]
    again, created = book.open_outgoing(first.transfer_id, vin, "51", "clerk-51")
    assert not created and again.state is TransferState.SENDING  # an offer asked again

    second, _ = book.open_outgoing(str(uuid.uuid4()), vin, "44", "clerk-44")
    with pytest.raises(VehicleNotTransferable, match="is transferring, not active"):
        book.start_sending(second.transfer_id, "/bags/2", FILES, 100)
    refused = book.get(second.transfer_id)
    assert refused.state is TransferState.REFUSED and "transferring" in (refused.reason or "")
    assert store.vehicles.get(vin).status is VehicleStatus.TRANSFERRING  # type: ignore[union-attr]

    # Nobody concludes it: past the deadline it expires, with the reason, and the car is back.
    clock.now += timedelta(days=32)
    assert [view.transfer_id for view in book.expire_due()] == [first.transfer_id]
    expired = book.get(first.transfer_id)
    assert expired.state is TransferState.EXPIRED and "not completed by" in (expired.reason or "")
    assert store.vehicles.get(vin).status is VehicleStatus.ACTIVE  # type: ignore[union-attr]
    assert book.expire_due() == []
    kinds = [event.kind for event in store.audit_events(limit=100)]
    assert (
        kinds.count("transfer_start_sending") == 1
        and "transfer_expire" in kinds
        and "transfer_refuse" in kinds
    )
    assert store.verify_audit_chain().ok


def test_the_destination_refuses_a_second_request_and_expires_with_a_reason(
    store: HubStore, make_record: Any
) -> None:
    clock = Clock()
    book = TransferBook(store.database, store.vehicles, "51", clock, ttl=timedelta(days=30))
    vin = make_record(7).vehicle.vin
    first = book.open_request(vin, "50", "clerk")
    with pytest.raises(TransferAlreadyOpen, match=f"vehicle {vin} is already being transferred"):
        book.open_request(vin, "50", "clerk")
    book.record_offer(first.transfer_id, FILES, 100, "渝A00007")
    with pytest.raises(IllegalTransition, match="sending: event accept is not allowed"):
        book.accept(first.transfer_id, "clerk")
    clock.now += timedelta(days=31)
    (expired,) = book.expire_due()
    assert (expired.end, expired.state) == (End.DESTINATION, TransferState.EXPIRED)
    assert book.unreported() == [expired]  # the source is still to be told
    book.mark_source_told(first.transfer_id)
    assert book.unreported() == []
    later = book.open_request(vin, "50", "clerk")  # once it ended, the car may be asked for again
    refused = book.refuse(later.transfer_id, TransferRole.REGISTRY_CLERK, "owner withdrew")
    assert refused.reason == "owner withdrew"


def test_one_replica_at_a_time_fetches_a_bag(store: HubStore, make_record: Any) -> None:
    clock = Clock()
    book = TransferBook(store.database, store.vehicles, "51", clock)
    view = book.open_request(make_record(3).vehicle.vin, "50", "clerk")
    lease = timedelta(seconds=60)
    assert not book.claim_fetch(view.transfer_id, "a", lease)  # nothing to fetch before the offer
    book.record_offer(view.transfer_id, FILES, 100, "渝A00003")
    assert book.claim_fetch(view.transfer_id, "a", lease)
    assert not book.claim_fetch(view.transfer_id, "b", lease)
    assert book.claim_fetch(view.transfer_id, "a", lease)  # its own: renewed
    book.confirm(view.transfer_id, Position(1, 0), 10, "a", lease)
    clock.now += timedelta(seconds=61)  # replica a died: its lease lapses
    assert book.claim_fetch(view.transfer_id, "b", lease)
    with pytest.raises(LeaseLost, match="replica b fetches it now, not a"):
        book.confirm(view.transfer_id, Position(1, 5), 15, "a", lease)
    assert book.get(view.transfer_id).confirmed == Position(1, 0)


def test_a_restarted_replica_takes_its_own_lease_back_at_once(store: HubStore, make_record: Any) -> None:
    """A lease is held by one run (process) of a replica: the next run of the same replica takes it
    without waiting for it to lapse, another replica still waits, and the earlier run, were it
    somehow alive, loses it at its next confirmation."""
    book = TransferBook(store.database, store.vehicles, "51", Clock())
    view = book.open_request(make_record(4).vehicle.vin, "50", "clerk")
    book.record_offer(view.transfer_id, FILES, 100, "渝A00004")
    lease = timedelta(seconds=60)
    first_run, restarted = lease_owner("sichuan-1", "run-1"), lease_owner("sichuan-1", "run-2")
    assert book.claim_fetch(view.transfer_id, first_run, lease)
    book.confirm(view.transfer_id, Position(1, 0), 10, first_run, lease)
    assert not book.claim_fetch(view.transfer_id, lease_owner("sichuan-2", "run-1"), lease)
    assert book.claim_fetch(view.transfer_id, restarted, lease)  # no lapse waited for
    with pytest.raises(LeaseLost, match="sichuan-1#run-2 fetches it now, not sichuan-1#run-1"):
        book.confirm(view.transfer_id, Position(1, 5), 15, first_run, lease)
    book.confirm(view.transfer_id, Position(1, 5), 15, restarted, lease)
    assert book.get(view.transfer_id).confirmed == Position(1, 5)
    with pytest.raises(HubError, match="replica id"):
        lease_owner("x" * 60, "run-1")

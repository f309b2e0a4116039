"""Archive transfer (异地转籍) end to end between two real province hubs on the parametrized
database: a Chongqing car's file goes to Sichuan over the hubs' gRPC links, is verified item by
item, the clerk checks the car and accepts it, Sichuan registers it under a new plate and
Chongqing releases it. Around it: a second transfer of the same car refused, a bag that does not
verify (altered, missing, extra item) refused naming the item, a wrong destination refused, a
link cut mid-transfer and both hubs restarted mid-transfer, each resumed from the last confirmed
chunk."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from hub.archive_bag import LABELS_FILE, VEHICLE_FILE, export_bag
from hub.archive_transfer_client import TransferCallError
from hub.countersign import HubIdentity
from hub.transfer_book import End, TransferBook
from hub.transfer_driver import SourceRefused, verify_transfer_bag
from hub.transfer_states import TransferState
from hub.vehicle_register import VehicleStatus
from hub.vehicle_standing import Standing, StandingBook
from inspection.identifiers import province_code_of_plate, validate_plate
from inspection.register_identity import BodyColour
from inspection.vehicle_register_csv import RegisterRow
from protos.tongjian.v1 import archive_pb2, archive_pb2_grpc, labels_pb2, labels_pb2_grpc
from tests.fault_proxy import FaultProxy, Mode
from tests.federation_rig import ProvinceHub
from tests.hub.transfer_rig import TransferRig, start_rig, transfer_settings, wait_until

CUT_RECORDS = 150  # a bag of about 300 kB: many flow-control windows
PHOTO = ("front.jpg", b"\xff\xd8\xff\xe0 a photo of the car \xff\xd9")


def _status(hub: ProvinceHub, vin: str) -> VehicleStatus | None:
    registered = hub.hub.store.vehicles.get(vin)
    return None if registered is None else registered.status


def _book(hub: ProvinceHub) -> TransferBook:
    return TransferBook(hub.hub.store.database, hub.hub.store.vehicles, hub.province)


def _state(hub: ProvinceHub, transfer_id: str) -> TransferState | None:
    view = _book(hub).find(transfer_id)
    return None if view is None else view.state


async def test_a_chongqing_car_moves_to_sichuan(transfer_rig: TransferRig) -> None:
    channel, clerk = transfer_rig.client(transfer_rig.sichuan)
    async with channel:
        status = await clerk.request(transfer_rig.vin, "50")
        assert status.state == "sending" and status.old_plate == transfer_rig.plate and status.total_files > 0
        assert _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.TRANSFERRING
        transfer_id = status.transfer_id

        # A second transfer of the car: refused at the destination, and at the source (its
        # compare-and-set finds the car transferring), each naming why.
        with pytest.raises(TransferCallError) as second:
            await clerk.request(transfer_rig.vin.lower(), "50")
        assert second.value.code is grpc.StatusCode.FAILED_PRECONDITION
        assert "already being transferred" in second.value.message
        async with grpc.aio.insecure_channel(transfer_rig.chongqing.endpoint) as peer:
            with pytest.raises(grpc.aio.AioRpcError) as at_source:
                await archive_pb2_grpc.ArchiveExchangeStub(peer).Offer(
                    archive_pb2.TransferOffer(
                        transfer_id=str(uuid.uuid4()),
                        vin=transfer_rig.vin,
                        from_province="50",
                        to_province="51",
                    )
                )
        assert at_source.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "is transferring, not active" in (at_source.value.details() or "")

        seen = [update async for update in clerk.follow(transfer_id)]
        assert seen[-1].state == "received", seen[-1]
        assert seen[-1].confirmed_bytes == seen[-1].total_bytes > 0

        # The car in front of the clerk is not the car of the archive: named, not accepted.
        other_vin = "LSVAU218XN2183294"
        mismatch = await clerk.check_identity(transfer_id, other_vin, "EA888-123456", "white", [PHOTO])
        assert mismatch.state == "received"
        assert [(m.field, m.observed, m.archived) for m in mismatch.mismatches] == [
            ("vin", other_vin, transfer_rig.vin)
        ]
        with pytest.raises(TransferCallError) as early:
            await clerk.accept(transfer_id)
        assert early.value.code is grpc.StatusCode.FAILED_PRECONDITION and "received" in early.value.message

        checked = await clerk.check_identity(
            transfer_id, transfer_rig.vin.lower(), "EA888-123456", "white", [PHOTO]
        )
        assert checked.state == "identity_checked" and not checked.mismatches
        accepted = await clerk.accept(transfer_id)
    assert accepted.state == "accepted"
    new_plate = accepted.new_plate
    assert validate_plate(new_plate) == new_plate and province_code_of_plate(new_plate) == "51"
    registered = transfer_rig.sichuan.hub.store.vehicles.get(transfer_rig.vin)
    assert registered is not None and registered.status is VehicleStatus.ACTIVE
    assert registered.vehicle.plate == new_plate

    # Chongqing releases the car on Sichuan's acceptance, and retires its plate.
    await wait_until(
        lambda: _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.TRANSFERRED_OUT, "release"
    )
    source = _book(transfer_rig.chongqing).get(transfer_id)
    assert (source.end, source.state, source.new_plate) == (End.SOURCE, TransferState.ACCEPTED, new_plate)
    await wait_until(
        lambda: _book(transfer_rig.sichuan).get(transfer_id).source_told_at is not None, "source told"
    )
    # Every step is in each hub's audit log, and both logs still verify.
    for hub, kinds in (
        (transfer_rig.sichuan, {"transfer_requested", "transfer_start_sending", "transfer_archive_verified",
                       "transfer_identity_mismatch", "transfer_identity_matched", "transfer_accept"}),
        (transfer_rig.chongqing, {"transfer_requested", "transfer_start_sending", "transfer_accept",
                         "transfer_plate_retired"}),
    ):  # fmt: skip
        logged = {event.kind for event in hub.hub.store.audit_events(limit=1000)}
        assert kinds <= logged, kinds - logged
        assert hub.hub.store.verify_audit_chain().ok
    photos = list((transfer_rig.sichuan.archive_transfer.incoming / transfer_id / "identity").iterdir())  # type: ignore[union-attr]
    assert len(photos) == 2 and photos[0].read_bytes() == PHOTO[1]


async def test_a_refusal_gives_the_car_back(transfer_rig: TransferRig) -> None:
    channel, clerk = transfer_rig.client(transfer_rig.sichuan)
    async with channel:
        status = await clerk.request(transfer_rig.vin, "50")
        await wait_until(
            lambda: _state(transfer_rig.sichuan, status.transfer_id) is TransferState.RECEIVED, "received"
        )
        with pytest.raises(TransferCallError) as no_reason:
            await clerk.refuse(status.transfer_id, "  ")
        assert no_reason.value.code is grpc.StatusCode.INVALID_ARGUMENT
        refused = await clerk.refuse(status.transfer_id, "the owner withdrew the application")
    assert refused.state == "refused" and refused.reason == "the owner withdrew the application"
    await wait_until(
        lambda: _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.ACTIVE,
        "the car given back",
    )
    assert _state(transfer_rig.chongqing, status.transfer_id) is TransferState.REFUSED
    assert (
        transfer_rig.sichuan.hub.store.vehicles.get(transfer_rig.vin) is None
    )  # nothing registered at Sichuan


async def test_a_transfer_not_accepted_in_time_expires_and_the_car_goes_back(
    transfer_rig: TransferRig,
) -> None:
    assert transfer_rig.sichuan.archive_transfer is not None
    transfer_rig.sichuan.archive_transfer = transfer_settings(
        transfer_rig.sichuan.archive_transfer.archive_dir, ttl=timedelta(seconds=1)
    )
    await transfer_rig.sichuan.stop()
    await transfer_rig.sichuan.start()
    channel, clerk = transfer_rig.client(transfer_rig.sichuan)
    async with channel:
        status = await clerk.request(transfer_rig.vin, "50")
        await wait_until(
            lambda: _state(transfer_rig.sichuan, status.transfer_id) is TransferState.EXPIRED, "expiry"
        )
        expired = await clerk.status(status.transfer_id)
    assert expired.reason.startswith("not completed by") and "the transfer expired" in expired.reason
    await wait_until(
        lambda: _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.ACTIVE,
        "the car given back",
    )
    source = _book(transfer_rig.chongqing).get(status.transfer_id)
    assert source.state is TransferState.EXPIRED and source.reason == expired.reason


async def test_bad_arguments_and_a_wrong_destination_are_refused(transfer_rig: TransferRig) -> None:
    channel, clerk = transfer_rig.client(transfer_rig.sichuan)
    async with channel:
        for vin, province, code, words in (
            ("LSVAU218XN2183295", "50", grpc.StatusCode.INVALID_ARGUMENT, "check digit"),
            (transfer_rig.vin, "5", grpc.StatusCode.INVALID_ARGUMENT, "GB/T 2260"),
            (transfer_rig.vin, "51", grpc.StatusCode.INVALID_ARGUMENT, "own province"),
            ("LSVAU218XN2183294", "50", grpc.StatusCode.NOT_FOUND, "not in this province's register"),
            (transfer_rig.vin, "44", grpc.StatusCode.NOT_FOUND, "44"),  # no such province in the trust list
        ):
            with pytest.raises(TransferCallError) as refused:
                await clerk.request(vin, province)
            assert refused.value.code is code and words in refused.value.message, refused.value
        with pytest.raises(TransferCallError) as unknown:
            await clerk.status(str(uuid.uuid4()))
        assert unknown.value.code is grpc.StatusCode.NOT_FOUND
        with pytest.raises(TransferCallError) as malformed:
            await clerk.status("not-a-uuid")
        assert malformed.value.code is grpc.StatusCode.INVALID_ARGUMENT
    # The source gives a transfer only to the province it is for.
    async with grpc.aio.insecure_channel(transfer_rig.chongqing.endpoint) as peer:
        with pytest.raises(grpc.aio.AioRpcError) as elsewhere:
            await archive_pb2_grpc.ArchiveExchangeStub(peer).Offer(
                archive_pb2.TransferOffer(
                    transfer_id=str(uuid.uuid4()), vin=transfer_rig.vin, from_province="50", to_province="44"
                )
            )
    assert elsewhere.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "wrong destination" in (elsewhere.value.details() or "")
    assert _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.ACTIVE
    # A bag signed for another destination does not import here.
    view = _book(transfer_rig.sichuan).open_request(transfer_rig.vin, "50", "clerk")
    bag = Path(transfer_rig.sichuan.archive_transfer.archive_dir) / "elsewhere"  # type: ignore[union-attr]
    export_bag(
        transfer_rig.chongqing.hub.store, transfer_rig.vin, bag, HubIdentity("50", transfer_rig.chongqing.hub_key), datetime.now(UTC),
        (view.transfer_id, "44"),
    )  # fmt: skip
    problems = verify_transfer_bag(bag, view, transfer_rig.national.public, datetime.now(UTC))  # type: ignore[arg-type]
    assert problems == [
        "bag-info.txt: wrong destination: Tongjian-Destination-Province is '44', expected '51'"
    ]


def _damage(kind: str, bag: Path) -> str:
    """Damage the bag at the source the way ``kind`` says; the item the check must name."""
    if kind == "altered":
        item = "data/records/local/000002.signedrecord"
        data = bytearray((bag / item).read_bytes())
        data[-1] ^= 0x01
        (bag / item).write_bytes(bytes(data))
    elif kind == "missing":
        item = "data/records/local/000003.signedrecord"
        (bag / item).unlink()
    else:
        item = "data/records/local/000099.signedrecord"
        (bag / item).write_bytes(b"slipped in")
    return item


@pytest.mark.parametrize("kind", ["altered", "missing", "extra"])
async def test_a_bag_that_does_not_verify_is_refused_naming_the_item(
    transfer_rig: TransferRig, kind: str
) -> None:
    # The source's exported bag is damaged on its disk before it is sent.
    view = _book(transfer_rig.sichuan).open_request(transfer_rig.vin, "50", "clerk")
    bag = transfer_rig.chongqing.archive_transfer.outgoing / view.transfer_id / "bag"  # type: ignore[union-attr]
    bag.parent.mkdir(parents=True)
    export_bag(
        transfer_rig.chongqing.hub.store, transfer_rig.vin, bag, HubIdentity("50", transfer_rig.chongqing.hub_key), datetime.now(UTC),
        (view.transfer_id, "51"),
    )  # fmt: skip
    item = _damage(kind, bag)
    await transfer_rig.sichuan.hub.transfers.offer(view)
    await wait_until(
        lambda: _state(transfer_rig.sichuan, view.transfer_id) is TransferState.REFUSED, "refusal"
    )
    refused = _book(transfer_rig.sichuan).get(view.transfer_id)
    assert any(line.startswith(f"{item}: {kind}") for line in refused.problems), refused.problems
    assert item in (refused.reason or "")
    # Nothing imported; the car goes back to Chongqing.
    assert (
        refused.archive_vehicle is None
        and transfer_rig.sichuan.hub.store.vehicles.get(transfer_rig.vin) is None
    )
    await wait_until(
        lambda: _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.ACTIVE,
        "the car given back",
    )


@pytest.mark.slow
async def test_a_cut_link_and_restarts_of_both_hubs_resume_from_the_last_confirmed_chunk(
    databases: Any, tmp_path: Path, make_record: Any, submit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The link to Chongqing goes through a fault proxy: cut once mid-bag, and later both hubs
    are stopped mid-bag and started again; the bag arrives whole and verified, and fetching
    resumed from a confirmed position, not from the start."""
    caplog.set_level(logging.INFO, logger="hub.archive_exchange")
    transfer_rig = await start_rig(databases, tmp_path, make_record, submit, CUT_RECORDS)
    # Slow enough to act mid-bag: each chunk confirmed (fsync + commit) before the next is read,
    # so the source can send only a flow-control window ahead of what the destination confirmed.
    for hub in (transfer_rig.chongqing, transfer_rig.sichuan):
        assert hub.archive_transfer is not None
        # A stable replica id and a lease far longer than the test: the restarted Sichuan process
        # (a new run of the same replica) must take its lease back at once, not wait it out.
        hub.archive_transfer = transfer_settings(
            hub.archive_transfer.archive_dir,
            chunk_bytes=1024,
            message_bytes=3000,  # three pieces a message: cut and confirmed inside messages
            confirm_bytes=1024,
            replica=f"{hub.province}-replica-1",
            fetch_lease_s=3600.0,
        )
        await hub.stop()
        await hub.start()
    proxy = FaultProxy("127.0.0.1", transfer_rig.chongqing.hub.port)  # the link Sichuan -> Chongqing
    await proxy.start()
    try:
        transfer_rig.national.publish(
            [transfer_rig.chongqing, transfer_rig.sichuan], endpoints={"50": proxy.address}
        )
        channel, clerk = transfer_rig.client(transfer_rig.sichuan)
        async with channel:
            status = await clerk.request(transfer_rig.vin, "50")
        transfer_id = status.transfer_id
        book = lambda: _book(transfer_rig.sichuan).get(transfer_id)  # noqa: E731
        total = book().total_bytes

        def fetches() -> list[str]:
            return [r.getMessage() for r in caplog.records if "sending the bag from file" in r.getMessage()]

        # Every connection through the link breaks a quarter of the bag in: the first fetch
        # (from the start) breaks, and the next one resumes from what was confirmed.
        proxy.cut_after_bytes_down = total // 4
        await wait_until(lambda: proxy.resets >= 1 and book().confirmed_bytes > 0, "a cut after progress")
        seen = len(fetches())
        await wait_until(lambda: len(fetches()) > seen, "a fetch after the cut")
        proxy.mode = Mode.CUT  # and now the link is down
        assert fetches()[0].endswith("from file 0 offset 0")
        assert not fetches()[-1].endswith("from file 0 offset 0"), fetches()
        # With the link down both hubs stop mid-bag, and start again.
        await transfer_rig.chongqing.stop(grace=0)
        await transfer_rig.sichuan.stop(grace=0)
        stopped_at = _book_offline(transfer_rig.sichuan, transfer_id)
        assert stopped_at.state is TransferState.SENDING and 0 < stopped_at.confirmed_bytes < total
        before_restart = len(fetches())
        await transfer_rig.chongqing.start()
        await transfer_rig.sichuan.start()
        proxy.cut_after_bytes_down = None
        proxy.mode = Mode.PASS
        await wait_until(lambda: book().state is TransferState.RECEIVED, "the bag received", timeout=60)
        received = book()
        assert received.problems == () and received.archive_vehicle is not None
        position = stopped_at.confirmed
        assert fetches()[before_restart].endswith(f"from file {position.file_index} offset {position.offset}")
        assert _status(transfer_rig.chongqing, transfer_rig.vin) is VehicleStatus.TRANSFERRING
    finally:
        await proxy.stop()
        await transfer_rig.sichuan.stop()
        await transfer_rig.chongqing.stop()


def _book_offline(hub: ProvinceHub, transfer_id: str) -> Any:
    from hub.store import HubStore

    store = HubStore(hub.database_url)
    try:
        return TransferBook(store.database, store.vehicles, hub.province).get(transfer_id)
    finally:
        store.dispose()


class _RogueSource:
    """A hub that answers for Chongqing but breaks the protocol: a file list with an unsafe path,
    chunks that are not where the offer said, or a message that is not a BagChunk at all (a real
    gRPC server, like a misbehaving peer)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.offers = 0
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "tongjian.v1.ArchiveExchange",
                    {
                        "Offer": grpc.unary_unary_rpc_method_handler(
                            self.offer,
                            request_deserializer=archive_pb2.TransferOffer.FromString,
                            response_serializer=archive_pb2.TransferOfferReply.SerializeToString,
                        ),
                        "Fetch": grpc.unary_stream_rpc_method_handler(
                            self.fetch,
                            request_deserializer=archive_pb2.FetchRequest.FromString,
                            response_serializer=_serialize_chunk,
                        ),
                    },
                ),
            )
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    async def offer(self, request: Any, context: Any) -> archive_pb2.TransferOfferReply:
        self.offers += 1
        await asyncio.sleep(0.05)  # long enough for a second offer of the same transfer to come
        path = "data/../../outside" if self.mode == "path" else "data/vehicle.json"
        return archive_pb2.TransferOfferReply(files=[archive_pb2.BagFile(path=path, size=10)], total_bytes=10)

    async def fetch(self, request: Any, context: Any) -> Any:
        piece = archive_pb2.BagPiece
        if self.mode == "garbage":
            yield b"\x22\x05\x08\x00\x1a\x09012"  # the data's length runs past its piece
            return
        yield archive_pb2.BagChunk(
            pieces=[piece(file_index=0, offset=0, data=b"012"), piece(file_index=0, offset=3, data=b"34")]
        )
        # A gap inside a message: bytes 5-6 skipped.
        yield archive_pb2.BagChunk(pieces=[piece(file_index=0, offset=7, data=b"789")])


def _serialize_chunk(chunk: archive_pb2.BagChunk | bytes) -> bytes:
    return chunk if isinstance(chunk, bytes) else chunk.SerializeToString()


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("path", "the source's offer is not acceptable: bag file path 'data/../../outside'"),
        ("chunk", "the source sent a bad chunk: chunk at file 0 offset 7, expected file 0 offset 5"),
        ("garbage", "the source sent a bad chunk: piece data of 9 bytes at byte 6 runs past its piece"),
    ],
)
async def test_a_source_that_breaks_the_protocol_is_refused(
    transfer_rig: TransferRig, mode: str, words: str
) -> None:
    rogue = _RogueSource(mode)
    await rogue.server.start()
    try:
        transfer_rig.national.publish(
            [transfer_rig.chongqing, transfer_rig.sichuan], endpoints={"50": f"127.0.0.1:{rogue.port}"}
        )
        channel, clerk = transfer_rig.client(transfer_rig.sichuan)
        async with channel:
            if mode == "path":
                with pytest.raises(TransferCallError) as refused:
                    await clerk.request(transfer_rig.vin, "50")
                assert words in refused.value.message
                return
            status = await clerk.request(transfer_rig.vin, "50")
        await wait_until(
            lambda: _state(transfer_rig.sichuan, status.transfer_id) is TransferState.REFUSED, "refusal"
        )
        view = _book(transfer_rig.sichuan).get(status.transfer_id)
        assert words in (view.reason or "") and view.archive_vehicle is None
        assert not (transfer_rig.sichuan.archive_transfer.incoming / status.transfer_id / "bag").exists()  # type: ignore[union-attr]
    finally:
        await rogue.server.stop(0)


async def test_the_clerks_offer_and_the_drivers_round_make_one_offer(transfer_rig: TransferRig) -> None:
    # The clerk's request offers at once, and the driver's round offers every REQUESTED transfer.
    # Racing, both asked the source, and the second recorded an offer on a transfer the first had
    # already refused (a clerk saw an error about an illegal transition instead of the refusal).
    rogue = _RogueSource("path")
    await rogue.server.start()
    try:
        transfer_rig.national.publish(
            [transfer_rig.chongqing, transfer_rig.sichuan], endpoints={"50": f"127.0.0.1:{rogue.port}"}
        )
        hub = transfer_rig.sichuan.hub
        view = _book(transfer_rig.sichuan).open_request(transfer_rig.vin, "50", "clerk-1")
        outcomes = await asyncio.gather(
            hub.transfers.offer(view), hub.transfers.offer(view), return_exceptions=True
        )
        assert rogue.offers == 1
        assert all(isinstance(outcome, SourceRefused) for outcome in outcomes), outcomes
        assert "bag file path 'data/../../outside'" in str(outcomes[0])
        assert _state(transfer_rig.sichuan, view.transfer_id) is TransferState.REFUSED
        again = await hub.transfers.offer(view)  # a round's stale view: looked up, not offered again
        assert again.state is TransferState.REFUSED and rogue.offers == 1
    finally:
        await rogue.server.stop(0)


async def test_two_replicas_of_the_destination_fetch_a_bag_once(
    transfer_rig: TransferRig, caplog: pytest.LogCaptureFixture
) -> None:
    """A second Sichuan hub on the same database and archive storage: one replica holds the fetch
    lease, the other leaves the bag alone; the source sends it once."""
    caplog.set_level(logging.INFO, logger="hub.archive_exchange")
    first = transfer_rig.sichuan
    assert first.archive_transfer is not None
    second = ProvinceHub(
        "51",
        first.database_url,
        transfer_rig.national.public,
        hub_key=first.hub_key,
        archive_transfer=transfer_settings(first.archive_transfer.archive_dir, replica="replica-b"),
    )
    await second.start()
    try:
        channel, clerk = transfer_rig.client(second)
        async with channel:
            status = await clerk.request(transfer_rig.vin, "50")
        await wait_until(
            lambda: _state(first, status.transfer_id) is TransferState.RECEIVED,
            "the bag received",
            timeout=30,
        )
        sent = [r.getMessage() for r in caplog.records if "sending the bag from file" in r.getMessage()]
        assert len(sent) == 1 and sent[0].endswith("from file 0 offset 0"), sent
        view = _book(first).get(status.transfer_id)
        assert view.problems == () and view.archive_vehicle is not None
    finally:
        await second.stop()


async def test_a_car_with_an_exemption_label_issued_in_another_province_moves(
    transfer_rig: TransferRig,
) -> None:
    """The owner got an exemption label in Sichuan (51) for the Chongqing car: Chongqing records
    it, signed with Sichuan's key, so the bag Chongqing sends holds a label of another issuer. It
    verifies with Sichuan's key from the trust list and the transfer goes through."""
    chongqing = transfer_rig.chongqing
    StandingBook(chongqing.hub.store.database).set(
        transfer_rig.vin, Standing(date(2026, 12, 31), True, 0, 0, False)
    )
    async with grpc.aio.insecure_channel(transfer_rig.sichuan.endpoint) as channel:
        exemption = await labels_pb2_grpc.LabelsStub(channel).ApplyExemption(
            labels_pb2.ExemptionApplication(
                vin=transfer_rig.vin, plate=transfer_rig.plate, application_date="2024-04-01"
            ),
            timeout=10,
        )
    assert exemption.granted and exemption.issuer_province == "51", exemption
    assert chongqing.hub.labels is not None
    assert [label.token for label in chongqing.hub.labels.by_vin(transfer_rig.vin)] == [exemption.token]

    channel, clerk = transfer_rig.client(transfer_rig.sichuan)
    async with channel:
        status = await clerk.request(transfer_rig.vin, "50")
        seen = [update async for update in clerk.follow(status.transfer_id)]
    assert seen[-1].state == "received", seen[-1]
    bag = transfer_rig.sichuan.archive_transfer.incoming / status.transfer_id / "bag"  # type: ignore[union-attr]
    labels = [json.loads(line)["token"] for line in (bag / LABELS_FILE).read_text().splitlines()]
    assert labels == [exemption.token]


async def test_the_engine_number_and_colour_the_source_registered_are_compared(
    transfer_rig: TransferRig,
) -> None:
    """Chongqing's register records the car's engine number and colour; they travel in the archive,
    the clerk's different readings are named (field, observed, archived), and the car enters
    Sichuan's register with them."""
    source = transfer_rig.chongqing.hub.store.vehicles
    registered = source.get(transfer_rig.vin)
    assert registered is not None
    row = RegisterRow(2, registered.vehicle, registered.owner_ref, "EA211-1234567", BodyColour.BLUE)
    assert source.import_rows([row], "50").updated == 1
    channel, clerk = transfer_rig.client(transfer_rig.sichuan)
    async with channel:
        status = await clerk.request(transfer_rig.vin, "50")
        seen = [update async for update in clerk.follow(status.transfer_id)]
        assert seen[-1].state == "received", seen[-1]
        bag = transfer_rig.sichuan.archive_transfer.incoming / status.transfer_id / "bag"  # type: ignore[union-attr]
        archived = json.loads((bag / VEHICLE_FILE).read_text())
        assert (archived["engine_number"], archived["colour"]) == ("EA211-1234567", "blue")

        wrong = await clerk.check_identity(
            status.transfer_id, transfer_rig.vin, "EA211-1234568", "白", [PHOTO]
        )
        assert wrong.state == "received"
        assert [(m.field, m.observed, m.archived) for m in wrong.mismatches] == [
            ("engine_number", "EA211-1234568", "EA211-1234567"),
            ("colour", "白", "blue"),
        ]
        right = await clerk.check_identity(
            status.transfer_id, transfer_rig.vin, "ea211 1234567", "蓝色", [PHOTO]
        )
        assert right.state == "identity_checked" and not right.mismatches
        assert (await clerk.accept(status.transfer_id)).state == "accepted"
    moved = transfer_rig.sichuan.hub.store.vehicles.get(transfer_rig.vin)
    assert moved is not None and (moved.engine_number, moved.colour) == ("EA211-1234567", BodyColour.BLUE)

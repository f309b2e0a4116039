"""Cross-province forwarding between two real hubs: a Chongqing (50) car inspected at a Sichuan
(51) station is stored and judged at the Sichuan hub and arrives, verified, exactly once at the
Chongqing hub; what cannot be placed is parked with a reason and can be retried."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from hub.forwarded_record import recheck_forwarded
from hub.published_directory import NoPeerDirectory
from protos.signed_document import sign_document
from protos.tongjian.v1 import federation_pb2, ingest_pb2
from tests.fault_proxy import FaultProxy, Mode
from tests.federation_rig import National, ProvinceHub, Station, hub_key_id, with_registration

SICHUAN_STATION = "51-0001"
RecordFactory = Callable[..., Any]


@dataclasses.dataclass
class Pair:
    national: National
    sichuan: ProvinceHub  # inspects
    chongqing: ProvinceHub  # registers
    station: Station


@pytest.fixture
async def pair(databases: Any, tmp_path: Path) -> AsyncIterator[Pair]:
    national = National()
    sichuan = ProvinceHub("51", databases.new("sichuan"), national.public)
    chongqing = ProvinceHub("50", databases.new("chongqing"), national.public)
    await chongqing.start()
    await sichuan.start()
    try:
        national.publish([sichuan, chongqing])
        station = sichuan.enrol_station(SICHUAN_STATION, tmp_path)
        yield Pair(national, sichuan, chongqing, station)
    finally:
        await sichuan.stop()
        await chongqing.stop()


async def _wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _records(make_record: RecordFactory, count: int, start: int = 0) -> list[Any]:
    return [make_record(index, station_id=SICHUAN_STATION) for index in range(start, start + count)]


async def _submit_all(submit: Any, hub: ProvinceHub, station: Station, records: list[Any]) -> None:
    outcome = await submit(hub.hub.port, [station.seal(record) for record in records])
    assert outcome.error is None, outcome.error
    assert [ack.status for ack in outcome.acks] == [ingest_pb2.ACK_STATUS_ACCEPTED] * len(records), [
        ack.reason for ack in outcome.acks if ack.reason
    ]


async def test_a_record_of_a_chongqing_car_arrives_verified_at_the_chongqing_hub(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    records = _records(make_record, 5)  # make_record's cars are registered in 50 (渝 plates)
    pair.chongqing.register_vehicles(records)
    await _submit_all(submit, pair.sichuan, pair.station, records)

    foreign = pair.chongqing.hub.store.foreign_records
    await _wait_for(lambda: foreign.count() == 5, what="5 forwarded records at the Chongqing hub")
    sichuan_store = pair.sichuan.hub.store
    await _wait_for(lambda: sichuan_store.outbox.counts().delivered == 5, what="5 delivered outbox items")

    trust = pair.chongqing.hub.store.trust_lists.current(pair.national.public, datetime.now(UTC))  # type: ignore[arg-type]
    assert trust is not None
    entry = trust.entry("51")
    directory = pair.chongqing.hub.store.peer_directories.get_any("51", entry.hub_public_key)
    for record in records:
        row = foreign.get(SICHUAN_STATION, str(record.record_id))
        assert row is not None
        stored = sichuan_store.get_record(str(record.record_id), SICHUAN_STATION)
        assert stored is not None
        # The station's envelope travelled byte for byte: the same record bytes and signature.
        envelope = federation_pb2.ForwardBody.FromString(row.forward_body).station_envelope
        assert envelope == row.station_envelope
        assert pair.station.seal(record) == row.station_envelope
        assert row.from_province == "51" and row.hub_key_id == hub_key_id(pair.sichuan)
        assert row.received_at == stored.received_at
        assert row.inspecting_hub_overall == stored.hub_overall and row.hub_overall == stored.hub_overall
        assert recheck_forwarded(row, trust, directory, _limits()) is None
    assert pair.sichuan.hub.store.count_records() == 5  # stored at the inspecting hub too
    assert pair.chongqing.hub.store.count_records() == 0  # not as a local record
    events = pair.chongqing.hub.store.audit_events(kind="record_forwarded_in")
    assert len(events) == 5


def _limits() -> Any:
    from hub.envelope_check import EnvelopeLimits

    return EnvelopeLimits()


async def test_a_local_car_is_not_forwarded(pair: Pair, make_record: RecordFactory, submit: Any) -> None:
    records = [with_registration(r, "51", "川") for r in _records(make_record, 3)]
    await _submit_all(submit, pair.sichuan, pair.station, records)
    assert pair.sichuan.hub.store.outbox.counts().pending == 0
    assert pair.sichuan.hub.store.outbox.items() == []


async def test_an_unknown_vehicle_is_parked_with_the_reason_and_arrives_after_a_retry(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    records = _records(make_record, 3)
    pair.chongqing.register_vehicles(records[:2])  # the third car is not in Chongqing's register
    await _submit_all(submit, pair.sichuan, pair.station, records)
    outbox = pair.sichuan.hub.store.outbox
    await _wait_for(
        lambda: outbox.counts().delivered == 2 and outbox.counts().parked == 1, what="2 sent, 1 parked"
    )
    [parked] = outbox.items("parked")
    assert parked.record_id == str(records[2].record_id)
    assert parked.parked_reason is not None
    assert (
        parked.parked_reason.startswith("unknown_vehicle:") and records[2].vehicle.vin in parked.parked_reason
    )

    pair.chongqing.register_vehicles(records[2:])
    assert outbox.retry([parked.id]) == 1
    foreign = pair.chongqing.hub.store.foreign_records
    await _wait_for(lambda: foreign.count() == 3, what="the retried record")
    assert outbox.counts().parked == 0


async def test_a_province_no_trust_list_names_is_parked(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    records = [with_registration(r, "44", "粤") for r in _records(make_record, 2)]
    await _submit_all(submit, pair.sichuan, pair.station, records)
    outbox = pair.sichuan.hub.store.outbox
    await _wait_for(lambda: outbox.counts().parked == 2, what="2 parked items")
    reasons = {item.parked_reason for item in outbox.items("parked")}
    assert reasons == {"province '44' is not in the national trust list (version 1)"}


async def test_exactly_once_through_cuts_and_a_restart_of_the_registration_hub(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    count = 1000
    records = _records(make_record, count)
    pair.chongqing.register_vehicles(records)
    async with FaultProxy("127.0.0.1", pair.chongqing.hub.port) as proxy:
        pair.national.publish([pair.sichuan, pair.chongqing], endpoints={"50": proxy.address})
        proxy.mode = Mode.CUT  # partition: the registration hub cannot be reached at first
        await _submit_all(submit, pair.sichuan, pair.station, records[:400])
        await asyncio.sleep(0.5)
        assert pair.chongqing.hub.store.foreign_records.count() == 0  # down only delays
        proxy.mode = Mode.PASS
        foreign = pair.chongqing.hub.store.foreign_records
        submitting = asyncio.create_task(_submit_all(submit, pair.sichuan, pair.station, records[400:]))
        for _ in range(4):  # cut live connections while records flow
            await _wait_for(lambda: foreign.count() > 0, what="some records through")
            await asyncio.sleep(0.15)
            proxy.cut()
        # Restart the registration hub mid-way (same database, same port behind the proxy).
        await pair.chongqing.stop(grace=0.1)
        arrived_before_restart = foreign.count()
        await submitting
        await pair.chongqing.start()
        foreign = pair.chongqing.hub.store.foreign_records
        outbox = pair.sichuan.hub.store.outbox
        await _wait_for(lambda: outbox.counts().delivered == count, timeout=60, what="every record delivered")
    keys = foreign.keys()
    assert 0 < arrived_before_restart < count
    failures = pair.sichuan.hub.metrics.registry.get_sample_value(
        "tongjian_hub_forward_link_failures_total", {"province": "50"}
    )
    assert failures is not None and failures >= 2  # the partition and the cuts were felt
    assert len(keys) == count == len(set(keys))
    assert set(keys) == {(SICHUAN_STATION, str(r.record_id)) for r in records}
    assert outbox.counts().parked == 0


async def test_revocation_reaches_the_registration_hub_and_older_records_stay_verifiable(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    records = _records(make_record, 2)
    pair.chongqing.register_vehicles(records)
    await _submit_all(submit, pair.sichuan, pair.station, records[:1])
    chongqing = pair.chongqing.hub.store
    await _wait_for(lambda: chongqing.foreign_records.count() == 1, what="the first record")
    revoked_at = datetime.now(UTC)
    pair.sichuan.hub.store.revoke_key(pair.station.key_id, revoked_at)

    # A record the inspecting hub countersigns as received after the revocation: a hub that
    # forwards it anyway (a bug, or a forged receive time) is refused at the registration hub.
    trust = chongqing.trust_lists.current(pair.national.public, datetime.now(UTC))  # type: ignore[arg-type]
    assert trust is not None
    directory = pair.sichuan.hub.store.directory
    from hub.published_directory import sign_directory

    fresh = sign_directory(directory, "51", pair.sichuan.hub_key, "hub-51", datetime.now(UTC))
    late = _forward_body(pair, records[1], received_at=revoked_at + timedelta(seconds=1))
    acks = await _forward_raw(pair.chongqing.hub.port, [fresh, late])
    assert [ack.status for ack in acks] == [federation_pb2.FORWARD_STATUS_REJECTED]
    assert "revoked" in acks[0].reason
    cached = chongqing.peer_directories.get("51", trust.entry("51").hub_public_key, datetime.now(UTC))
    assert cached.keys[pair.station.key_id].revoked_at is not None

    # The record received before the revocation still verifies against the new directory.
    row = chongqing.foreign_records.get(SICHUAN_STATION, str(records[0].record_id))
    assert row is not None
    assert recheck_forwarded(row, trust, cached, _limits()) is None


async def test_a_forged_countersignature_is_refused(pair: Pair, make_record: RecordFactory) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.published_directory import sign_directory

    record = _records(make_record, 1)[0]
    pair.chongqing.register_vehicles([record])
    directory = sign_directory(
        pair.sichuan.hub.store.directory, "51", pair.sichuan.hub_key, "hub-51", datetime.now(UTC)
    )
    good = _forward_body(pair, record, received_at=datetime.now(UTC))
    forged = sign_document(good.record.body, "hub-51", Ed25519PrivateKey.generate())
    altered_body = federation_pb2.ForwardBody.FromString(good.record.body)
    altered_body.hub_overall = "fail"
    altered = federation_pb2.SignedDocument(
        body=altered_body.SerializeToString(), key_id=good.record.key_id, signature=good.record.signature
    )
    acks = await _forward_raw(
        pair.chongqing.hub.port,
        [
            directory,
            federation_pb2.ForwardItem(record=forged),
            federation_pb2.ForwardItem(record=altered),
            good,
        ],
    )
    assert [ack.status for ack in acks] == [
        federation_pb2.FORWARD_STATUS_REJECTED,
        federation_pb2.FORWARD_STATUS_REJECTED,
        federation_pb2.FORWARD_STATUS_ACCEPTED,
    ]
    assert "countersignature" in acks[0].reason and "countersignature" in acks[1].reason
    # Sent again: DUPLICATE, nothing stored twice.
    again = await _forward_raw(pair.chongqing.hub.port, [directory, good])
    assert [ack.status for ack in again] == [federation_pb2.FORWARD_STATUS_DUPLICATE]
    assert pair.chongqing.hub.store.foreign_records.count() == 1


async def test_without_a_directory_the_registration_hub_asks_to_retry_later(
    pair: Pair, make_record: RecordFactory
) -> None:
    record = _records(make_record, 1)[0]
    pair.chongqing.register_vehicles([record])
    with pytest.raises(NoPeerDirectory):
        pair.chongqing.hub.store.peer_directories.document("51")
    item = _forward_body(pair, record, received_at=datetime.now(UTC))
    acks = await _forward_raw(pair.chongqing.hub.port, [item])
    assert [ack.status for ack in acks] == [federation_pb2.FORWARD_STATUS_RETRY_LATER]
    assert "directory" in acks[0].reason


async def test_a_record_for_another_province_is_refused_as_wrong_province(
    pair: Pair, make_record: RecordFactory
) -> None:
    from hub.published_directory import sign_directory

    record = _records(make_record, 1)[0]
    directory = sign_directory(
        pair.sichuan.hub.store.directory, "51", pair.sichuan.hub_key, "hub-51", datetime.now(UTC)
    )
    item = _forward_body(pair, record, received_at=datetime.now(UTC), to_province="44")
    acks = await _forward_raw(pair.chongqing.hub.port, [directory, item])
    assert [ack.status for ack in acks] == [federation_pb2.FORWARD_STATUS_WRONG_PROVINCE]


# ---------------------------------------------------------------- raw peer traffic


def _forward_body(
    pair: Pair, record: Any, received_at: datetime, to_province: str = "50"
) -> federation_pb2.ForwardItem:
    from hub.countersign import timestamp

    body = federation_pb2.ForwardBody(
        from_province="51",
        to_province=to_province,
        station_envelope=pair.station.seal(record),
        received_at=timestamp(received_at),
        hub_overall="pass",
    ).SerializeToString()
    return federation_pb2.ForwardItem(record=sign_document(body, "hub-51", pair.sichuan.hub_key))


async def _forward_raw(port: int, items: list[Any]) -> list[federation_pb2.ForwardAck]:
    wrapped = [
        item if isinstance(item, federation_pb2.ForwardItem) else federation_pb2.ForwardItem(directory=item)
        for item in items
    ]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.stream_stream(
            "/tongjian.v1.PeerExchange/Forward",
            request_serializer=federation_pb2.ForwardItem.SerializeToString,
            response_deserializer=federation_pb2.ForwardAck.FromString,
        )(iter(wrapped))
        return [ack async for ack in call]


async def test_history_at_the_registration_hub_lists_forwarded_inspections_and_whether_they_verify(
    pair: Pair, make_record: RecordFactory, submit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import update

    from hub.models import ForeignRecord
    from tongjian.cli import main

    records = _records(make_record, 2)
    # Both inspections of one car: the second visit is the same vehicle.
    records[1] = dataclasses.replace(records[1], vehicle=records[0].vehicle)
    pair.chongqing.register_vehicles(records[:1])
    await _submit_all(submit, pair.sichuan, pair.station, records)
    store = pair.chongqing.hub.store
    await _wait_for(lambda: store.foreign_records.count() == 2, what="both inspections")
    national_pem = tmp_path / "national.pub.pem"
    national_pem.write_bytes(
        pair.national.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    vin = records[0].vehicle.vin
    args = ["hub", "vehicles", "history", vin, "--database-url", pair.chongqing.database_url, "--json"]
    capsys.readouterr()
    assert main([*args, "--national-key", str(national_pem)]) == 0
    shown = json.loads(capsys.readouterr().out)["inspections"]
    assert [(i["origin"], i["inspected_in"], i["station_id"], i["verifies"]) for i in shown] == [
        ("forwarded", "51", SICHUAN_STATION, True)
    ] * 2
    assert [i["record_id"] for i in shown] == [str(r.record_id) for r in records]

    # Without the national key nothing forwarded can be vouched for, and it says why.
    assert main(args) == 0
    shown = json.loads(capsys.readouterr().out)["inspections"]
    assert not any(i["verifies"] for i in shown) and "national trust-list key" in shown[0]["problem"]

    # A forwarded record edited in the registration hub's database no longer verifies.
    with store.database.writer.begin() as connection:
        connection.execute(
            update(ForeignRecord)
            .where(ForeignRecord.record_id == str(records[1].record_id))
            .values(hub_signature=b"\0" * 64)
        )
    assert main([*args, "--national-key", str(national_pem)]) == 0
    shown = json.loads(capsys.readouterr().out)["inspections"]
    assert [i["verifies"] for i in shown] == [True, False]
    assert "countersignature" in shown[1]["problem"]


async def test_a_newer_trust_list_travels_from_peer_to_peer(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    # Guangdong joins: only Chongqing's operator installs the new list (version 2).
    guangdong = ProvinceHub("44", pair.chongqing.database_url, pair.national.public, listen="127.0.0.1:1")
    pair.national.publish([pair.sichuan, pair.chongqing, guangdong], install_at=[pair.chongqing])
    assert pair.sichuan.hub.store.trust_lists.installed_version() == 1
    records = _records(make_record, 1)
    pair.chongqing.register_vehicles(records)
    await _submit_all(submit, pair.sichuan, pair.station, records)
    # Sichuan's forwarder, calling Chongqing, finds a newer list there and installs it.
    await _wait_for(
        lambda: pair.sichuan.hub.store.trust_lists.installed_version() == 2, what="version 2 at Sichuan"
    )
    trust = pair.sichuan.hub.store.trust_lists.current(pair.national.public, datetime.now(UTC))  # type: ignore[arg-type]
    assert trust is not None and "44" in trust.provinces


@dataclasses.dataclass(frozen=True)
class _Rejected:
    station_id: str
    record_id: str
    reason: str
    revoked_by: str
    revoked_at: datetime


async def test_a_post_review_rejection_reaches_the_registration_hub_and_the_station(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    from hub.countersign import HubIdentity
    from hub.rejection_effects import forward_rejection, notify_station
    from hub.station_notices import StationNoticeBook

    remote = _records(make_record, 1)[0]
    local = with_registration(make_record(1, station_id=SICHUAN_STATION), "51", "川")
    pair.chongqing.register_vehicles([remote])
    await _submit_all(submit, pair.sichuan, pair.station, [remote, local])
    chongqing = pair.chongqing.hub.store
    await _wait_for(lambda: chongqing.foreign_records.count() == 1, what="the forwarded record")

    sichuan = pair.sichuan.hub.store
    effects = [notify_station, forward_rejection(HubIdentity("51", pair.sichuan.hub_key))]
    now = datetime.now(UTC)
    with sichuan.database.writer.begin() as connection:  # what the review queue's rejection does
        for record in (remote, local):
            rejected = _Rejected(SICHUAN_STATION, str(record.record_id), "brake curve copied", "rev-7", now)
            for effect in effects:
                effect(connection, rejected)
    pair.sichuan.hub.forwarder.wake()
    row_id = str(remote.record_id)

    def revoked() -> bool:
        row = chongqing.foreign_records.get(SICHUAN_STATION, row_id)
        return row is not None and row.revoked_at is not None

    await _wait_for(revoked, what="the rejection at Chongqing")
    row = chongqing.foreign_records.get(SICHUAN_STATION, row_id)
    assert row is not None and row.revoked_reason is not None
    assert "brake curve copied" in row.revoked_reason and "rev-7" in row.revoked_reason
    # Only the forwarded record's rejection travels; both reach the station as notices.
    items = sichuan.outbox.items()
    assert sorted(item.kind for item in items) == ["record", "review"]
    # Chongqing commits before it answers, and Sichuan marks the item delivered on the answer:
    # seeing the revocation there does not mean the mark is made here yet.
    await _wait_for(
        lambda: all(item.state.startswith("delivered") for item in sichuan.outbox.items()),
        what="both items marked delivered at Sichuan",
    )
    notices = StationNoticeBook(sichuan.database).after(SICHUAN_STATION, 0)
    assert [n.record_id for n in notices] == [str(remote.record_id), str(local.record_id)]
    assert len(chongqing.audit_events(kind="forwarded_result_revoked")) == 1


async def test_a_reviewer_rejecting_a_forwarded_record_reaches_both_the_station_and_the_registration_hub(
    pair: Pair, make_record: RecordFactory, submit: Any
) -> None:
    from hub.review_states import ReviewActor
    from hub.station_notices import StationNoticeBook

    record = _records(make_record, 1)[0]
    pair.chongqing.register_vehicles([record])
    await _submit_all(submit, pair.sichuan, pair.station, [record])
    chongqing = pair.chongqing.hub.store
    await _wait_for(lambda: chongqing.foreign_records.count() == 1, what="the forwarded record")
    review = pair.sichuan.hub.review
    await asyncio.to_thread(review.screen_all)
    item = await asyncio.to_thread(review.claim, "rev-7", ReviewActor.REVIEWER, "51")
    assert item is not None
    await asyncio.to_thread(
        review.reject, item.id, "rev-7", ReviewActor.REVIEWER, "51", "photo of another car"
    )
    pair.sichuan.hub.forwarder.wake()

    def revoked_there() -> bool:
        row = chongqing.foreign_records.get(SICHUAN_STATION, str(record.record_id))
        return row is not None and row.revoked_at is not None

    await _wait_for(revoked_there, what="the rejection at the registration hub")
    from hub.vehicle_history import forwarded_history

    [entry] = forwarded_history(chongqing, record.vehicle.vin, pair.national.public)  # type: ignore[arg-type]
    assert entry.revoked is not None and "photo of another car" in entry.revoked and entry.verifies
    [notice] = StationNoticeBook(pair.sichuan.hub.store.database).after(SICHUAN_STATION, 0)
    assert notice.record_id == str(record.record_id) and "photo of another car" in notice.reason


async def test_label_sync_takes_hub_keys_from_the_signed_national_trust_list(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from cryptography.hazmat.primitives import serialization

    from tongjian.cli import main

    national_pem = tmp_path / "national.pub.pem"
    national_pem.write_bytes(
        pair.national.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    cache = tmp_path / "labels-trust.json"
    argv = ["label", "sync", "--hub", pair.sichuan.endpoint, "--insecure", "--cache", str(cache)]
    assert await asyncio.to_thread(main, [*argv, "--national-key", str(national_pem)]) == 0
    text = cache.read_text(encoding="utf-8")
    for hub in (pair.sichuan, pair.chongqing):
        raw = hub.hub_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert raw.hex() in text or raw.hex() in json.dumps(json.loads(text))
    # Another national key: the list does not verify, and nothing is taken on the hub's word.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pub.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*argv, "--national-key", str(other)]) == 2
    assert "national trust list does not verify" in capsys.readouterr().err

"""A real hub on port 0 (SQLite and PostgreSQL) and a real grpc.aio client: what is stored, what is
refused and why, and that nothing refused leaves a row behind."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import grpc

from hub.server import HubServer
from hub.store import HubStore
from inspection import Outcome, PhotoRef, Verdict, VerdictItem, VisualCheck
from protos.envelope import load_private_key, seal
from protos.record_mapping import record_to_bytes, record_to_proto
from protos.tongjian.v1 import ingest_pb2
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.uplink import SUBMIT_METHOD
from tongjian.commands.keys import write_key_pair

ACCEPTED = ingest_pb2.ACK_STATUS_ACCEPTED
DUPLICATE = ingest_pb2.ACK_STATUS_DUPLICATE
REJECTED = ingest_pb2.ACK_STATUS_REJECTED


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def rejections(hub: HubServer) -> list[str]:
    return [event.detail for event in hub.store.audit_events(kind="record_rejected")]


async def test_accepted_records_are_stored_byte_for_byte(enrolled, submit, make_record) -> None:  # type: ignore[no-untyped-def]
    records = [make_record(i) for i in range(5)]
    envelopes = [enrolled.seal(r) for r in records]
    outcome = await submit(enrolled.hub.port, envelopes)
    assert outcome.error is None
    assert [(a.record_id, a.status) for a in outcome.acks] == [(str(r.record_id), ACCEPTED) for r in records]
    store = enrolled.hub.store
    assert store.count_records() == 5
    for record, envelope in zip(records, envelopes, strict=True):
        stored = store.get_record(str(record.record_id))
        assert stored is not None
        assert stored.payload == record_to_bytes(record) == envelope.record
        assert (stored.signature, stored.key_id, stored.station_id) == (
            envelope.signature, enrolled.key_id, enrolled.station_id,
        )  # fmt: skip
        assert (stored.vin, stored.plate) == (record.vehicle.vin, record.vehicle.plate)
    assert enrolled.hub.store.verify_audit_chain().ok


async def test_one_flipped_byte_in_payload_or_signature_is_rejected(enrolled, submit, make_record) -> None:  # type: ignore[no-untyped-def]
    good = enrolled.seal(make_record(0))
    bad_payload = pb.SignedRecord(
        record=flip_last_byte(good.record), key_id=good.key_id, signature=good.signature
    )
    bad_signature = pb.SignedRecord(
        record=good.record, key_id=good.key_id, signature=flip_last_byte(good.signature)
    )
    outcome = await submit(enrolled.hub.port, [bad_payload, bad_signature])
    assert [a.status for a in outcome.acks] == [REJECTED, REJECTED]
    assert all("signature does not verify" in a.reason for a in outcome.acks)
    assert enrolled.hub.store.count_records() == 0
    assert len(rejections(enrolled.hub)) == 2


async def test_unknown_key_malformed_payload_and_garbage_are_rejected_with_reasons(
    enrolled, submit, make_record, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    stray_private, _, stray_key_id = write_key_pair(enrolled.station_id, tmp_path / "stray")
    unknown = seal(
        record_to_bytes(make_record(0)), stray_key_id, load_private_key(stray_private.read_bytes())
    )
    malformed_record = pb.InspectionRecord(record_id="not-a-uuid", station_id=enrolled.station_id)
    malformed = enrolled.seal_bytes(malformed_record.SerializeToString())
    outcome = await submit(enrolled.hub.port, [unknown, malformed, b"\xff\xff\xff"])
    assert [a.status for a in outcome.acks] == [REJECTED] * 3
    assert stray_key_id in outcome.acks[0].reason and "unknown key" in outcome.acks[0].reason
    assert outcome.acks[0].record_id == str(make_record(0).record_id)
    assert "record_id" in outcome.acks[1].reason and "not a UUID" in outcome.acks[1].reason
    assert "not a SignedRecord" in outcome.acks[2].reason and outcome.acks[2].record_id == ""
    assert enrolled.hub.store.count_records() == 0
    kinds = [detail.split(":")[0] for detail in rejections(enrolled.hub)]
    assert sorted(kinds) == ["malformed", "not_an_envelope", "unknown_key"]


async def test_a_record_of_another_station_signed_with_this_key_is_rejected(
    enrolled, submit, make_record
) -> None:  # type: ignore[no-untyped-def]
    foreign = make_record(0, station_id="50-0002")
    outcome = await submit(enrolled.hub.port, [enrolled.seal(foreign)])
    (ack,) = outcome.acks
    assert ack.status == REJECTED
    assert "50-0002" in ack.reason and enrolled.station_id in ack.reason
    assert enrolled.hub.store.count_records() == 0


async def test_the_same_record_again_is_a_duplicate_and_stored_once(enrolled, submit, make_record) -> None:  # type: ignore[no-untyped-def]
    envelope = enrolled.seal(make_record(0))
    first = await submit(enrolled.hub.port, [envelope, envelope])
    again = await submit(enrolled.hub.port, [envelope])
    assert [a.status for a in first.acks + again.acks] == [ACCEPTED, DUPLICATE, DUPLICATE]
    assert enrolled.hub.store.count_records() == 1


async def test_a_record_id_reused_with_other_content_is_rejected_and_audited(
    enrolled, submit, make_record
) -> None:  # type: ignore[no-untyped-def]
    original = make_record(0)
    impostor = dataclasses.replace(original, lane=2)  # same id, other bytes, validly signed
    outcome = await submit(enrolled.hub.port, [enrolled.seal(original), enrolled.seal(impostor)])
    assert [a.status for a in outcome.acks] == [ACCEPTED, REJECTED]
    assert outcome.acks[1].reason == "record id reused with different content"
    assert enrolled.hub.store.get_record(str(original.record_id)).payload == record_to_bytes(original)
    (event,) = enrolled.hub.store.audit_events(kind="record_rejected", record_id=str(original.record_id))
    assert event.detail.startswith("id_reused")
    assert enrolled.hub.store.verify_audit_chain().ok


async def test_a_revoked_key_rejects_new_records_and_keeps_the_old(enrolled, submit, make_record) -> None:  # type: ignore[no-untyped-def]
    old, new = make_record(0), make_record(1)
    assert [a.status for a in (await submit(enrolled.hub.port, [enrolled.seal(old)])).acks] == [ACCEPTED]
    enrolled.hub.store.revoke_key(enrolled.key_id)
    outcome = await submit(enrolled.hub.port, [enrolled.seal(new)])
    assert outcome.acks[0].status == REJECTED and "revoked" in outcome.acks[0].reason
    stored = enrolled.hub.store.get_record(str(old.record_id))
    assert stored is not None and stored.payload == record_to_bytes(old)
    assert enrolled.hub.store.get_record(str(new.record_id)) is None
    assert [e.kind for e in enrolled.hub.store.audit_events(limit=2)] == ["record_rejected", "key_revoked"]
    # A resend of the record stored before the revocation (its Ack was lost) is a duplicate, not
    # a rejection: the station must not park a record the hub holds.
    resend = await submit(enrolled.hub.port, [enrolled.seal(old)])
    assert resend.acks[0].status == DUPLICATE


async def test_a_key_is_only_good_for_records_inside_its_validity_window(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    inside, before, after = make_record(10), make_record(0), make_record(30)
    # Received soon after the key expired (within the outbox grace), not whenever the test runs.
    received_at = make_record(31).finished_at
    async with HubServer(hub_config(clock=lambda: received_at)) as hub:
        station = enrol(
            hub, station_key, valid_from=make_record(5).finished_at, valid_until=make_record(20).finished_at
        )
        outcome = await submit(hub.port, [station.seal(r) for r in (inside, before, after)])
        assert [a.status for a in outcome.acks] == [ACCEPTED, REJECTED, REJECTED]
        assert "valid from" in outcome.acks[1].reason and "expired" in outcome.acks[2].reason
        assert hub.store.count_records() == 1


async def test_size_limits_reject_a_big_record_and_refuse_a_huge_message(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    def with_note(size: int):  # type: ignore[no-untyped-def]
        # notes of at most 500 characters each (inspection.record_limits.MAX_TEXT_CHARS)
        notes = tuple(VisualCheck("F01", True, "x" * 500, "I1") for _ in range(-(-size // 500)))
        return dataclasses.replace(make_record(size // 1000), visual_checks=notes)

    async with HubServer(hub_config(max_record_bytes=16_000, max_message_bytes=64_000)) as hub:
        station = enrol(hub, station_key)
        outcome = await submit(hub.port, [station.seal(with_note(1_000)), station.seal(with_note(20_000))])
        assert [a.status for a in outcome.acks] == [ACCEPTED, REJECTED]
        assert "at most 16000" in outcome.acks[1].reason
        huge = await submit(hub.port, [station.seal(with_note(100_000))])
        assert huge.acks == [] and huge.error is not None
        assert huge.error.code().name == "RESOURCE_EXHAUSTED"
        assert hub.store.count_records() == 1


async def test_too_many_photos_is_rejected(hub_config, enrol, submit, make_record, station_key) -> None:  # type: ignore[no-untyped-def]
    def with_photos(index: int, count: int):  # type: ignore[no-untyped-def]
        photos = tuple(PhotoRef(f"{n:064x}", "image/jpeg", 1000, "F01") for n in range(count))
        return dataclasses.replace(make_record(index), photos=photos)

    async with HubServer(hub_config(max_photos_per_record=3)) as hub:
        station = enrol(hub, station_key)
        outcome = await submit(hub.port, [station.seal(with_photos(0, 3)), station.seal(with_photos(1, 4))])
        assert [a.status for a in outcome.acks] == [ACCEPTED, REJECTED]
        assert "4 photos" in outcome.acks[1].reason


async def test_a_station_over_its_rate_gets_resource_exhausted_after_its_earlier_acks(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    # A frozen clock: the bucket never refills, so however slowly this machine sends, exactly the
    # burst (one second's worth, 5) goes through.
    async with HubServer(hub_config(station_rate_per_s=5.0, rate_clock=lambda: 0.0)) as hub:
        station = enrol(hub, station_key)
        # One more than the burst: all six are written before the hub ends the stream, so the
        # client sees the hub's status (a write after the end would turn it into INTERNAL here).
        outcome = await submit(hub.port, [station.seal(make_record(i)) for i in range(6)])
        assert outcome.error is not None and outcome.error.code().name == "RESOURCE_EXHAUSTED"
        assert "rate limit" in (outcome.error.details() or "")
        assert len(outcome.acks) == 5
        assert all(a.status == ACCEPTED for a in outcome.acks)
        assert hub.store.count_records() >= len(outcome.acks)


async def test_forged_key_ids_cannot_spend_another_stations_allowance(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    async with HubServer(hub_config(station_rate_per_s=2.0)) as hub:
        station = enrol(hub, station_key)
        forged = [
            pb.SignedRecord(
                record=record_to_bytes(make_record(i)), key_id=station.key_id, signature=b"f" * 64
            )
            for i in range(20)
        ]
        spent = await submit(hub.port, forged)
        assert spent.error is None and all(a.status == REJECTED for a in spent.acks)
        genuine = await submit(hub.port, [station.seal(make_record(100))])
        assert genuine.error is None and [a.status for a in genuine.acks] == [ACCEPTED]


async def test_the_hub_recomputes_the_verdict_and_flags_a_mismatch(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    def strict_judge(record):  # type: ignore[no-untyped-def]
        return Verdict(
            (VerdictItem("brake.service.total", "GB 7258-2017 7.13.1", 55.0, 60.0, "%", Outcome.FAIL),)
        )

    passing = Verdict(
        (VerdictItem("brake.service.total", "GB 7258-2017 7.13.1", 65.0, 60.0, "%", Outcome.PASS),)
    )
    record = dataclasses.replace(make_record(0), station_verdict=passing)
    async with HubServer(hub_config(judge=strict_judge)) as hub:
        station = enrol(hub, station_key)
        assert [a.status for a in (await submit(hub.port, [station.seal(record)])).acks] == [ACCEPTED]
        stored = hub.store.get_record(str(record.record_id))
        assert (stored.station_overall, stored.hub_overall, stored.verdict_mismatch) == ("pass", "fail", True)
        assert stored.hub_verdict["items"][0]["code"] == "brake.service.total"


async def test_the_standards_judge_catches_a_station_that_passed_a_weak_brake(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    from inspection.verdicts import judge

    honest = make_record(1)
    # The same car with a rear brake far too weak, signed with the verdict of an honest brake.
    weak_service = dataclasses.replace(honest.axles[1].service, left_max_n=150.0, right_max_n=140.0)
    weak = dataclasses.replace(honest.axles[1], service=weak_service)
    forged = dataclasses.replace(make_record(2), axles=(honest.axles[0], weak), station_verdict=judge(honest))
    async with HubServer(hub_config()) as hub:  # the default judge: inspection.verdicts.judge
        station = enrol(hub, station_key)
        records = [dataclasses.replace(honest, station_verdict=judge(honest)), forged]
        assert [a.status for a in (await submit(hub.port, [station.seal(r) for r in records])).acks] == [
            ACCEPTED,
            ACCEPTED,
        ]
        agreed = hub.store.get_record(str(honest.record_id))
        assert agreed.hub_overall == agreed.station_overall and not agreed.verdict_mismatch
        flagged = hub.store.get_record(str(forged.record_id))
        assert (flagged.station_overall, flagged.hub_overall, flagged.verdict_mismatch) == (
            agreed.station_overall,
            "fail",
            True,
        )


async def test_a_judge_that_raises_stores_the_record_without_a_hub_verdict(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    def broken_judge(record):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("axle load 0")

    async with HubServer(hub_config(judge=broken_judge)) as hub:
        station = enrol(hub, station_key)
        assert [a.status for a in (await submit(hub.port, [station.seal(make_record(0))])).acks] == [ACCEPTED]
        stored = hub.store.get_record(str(make_record(0).record_id))
        assert (stored.hub_overall, stored.verdict_mismatch) == (None, False)


async def test_records_handed_in_before_stop_are_committed(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    # A long group-commit wait keeps records queued when stop() is called.
    hub = HubServer(hub_config(group_commit_wait_ms=300.0, group_commit_max=10_000))
    await hub.start()
    station = enrol(hub, station_key)
    sending = asyncio.create_task(submit(hub.port, [station.seal(make_record(i)) for i in range(50)]))
    # Stop once the hub has read all 50 (not after a fixed sleep: a loaded machine reads slower).
    async with asyncio.timeout(30):
        while hub.metrics.registry.get_sample_value("tongjian_hub_records_received_total") != 50:
            await asyncio.sleep(0.005)
    await hub.stop(grace=1.0)
    outcome = await sending
    store = HubStore(hub.config.database_url)
    try:
        acked = {a.record_id for a in outcome.acks if a.status == ACCEPTED}
        stored = {r.record_id for r in store.list_records(limit=100)}
        assert acked <= stored  # every Ack promised a commit
        assert len(stored) == 50  # and what was in the queue was committed, not dropped
    finally:
        store.dispose()


async def test_hostile_key_ids_neither_poison_the_batch_nor_end_the_stream(
    enrolled, submit, make_record
) -> None:  # type: ignore[no-untyped-def]
    # No valid key needed: anyone who can connect may send these. A NUL or 200 characters do not
    # fit the audit log's key id column (PostgreSQL refuses them), and a 100 kB key id quoted in
    # the Ack would make the Ack larger than the hub may send.
    first, last = enrolled.seal(make_record(0)), enrolled.seal(make_record(3))
    nul_key = pb.SignedRecord(
        record=record_to_bytes(make_record(1)),
        key_id=f"{enrolled.station_id}/\x00{'k' * 200}",
        signature=b"s" * 64,
    )
    huge_key = pb.SignedRecord(
        record=record_to_bytes(make_record(2)), key_id="x" * 100_000, signature=b"s" * 64
    )
    outcome = await submit(enrolled.hub.port, [first, nul_key, huge_key, last])
    assert outcome.error is None
    assert [a.status for a in outcome.acks] == [ACCEPTED, REJECTED, REJECTED, ACCEPTED]
    assert all(len(a.reason) <= 512 for a in outcome.acks) and "unknown key" in outcome.acks[2].reason
    assert enrolled.hub.store.count_records() == 2
    audited = enrolled.hub.store.audit_events(kind="record_rejected")
    assert len(audited) == 2 and all(event.key_id is None for event in audited)
    assert enrolled.hub.store.verify_audit_chain().ok


async def test_a_station_verdict_whose_overall_contradicts_its_items_is_malformed(
    enrolled, submit, make_record
) -> None:  # type: ignore[no-untyped-def]
    record = make_record(0)
    failing = Verdict((VerdictItem("brake.total", "GB 7258-2017 7.13", 41.0, 60.0, "%", Outcome.FAIL),))
    message = record_to_proto(dataclasses.replace(record, station_verdict=failing))
    message.station_verdict.overall = pb.OUTCOME_PASS  # a signed PASS over a failing item
    outcome = await submit(
        enrolled.hub.port, [enrolled.seal_bytes(message.SerializeToString(deterministic=True))]
    )
    (ack,) = outcome.acks
    assert ack.status == REJECTED
    assert "station_verdict.overall" in ack.reason and "says pass but its items give fail" in ack.reason
    assert enrolled.hub.store.count_records() == 0


async def test_a_station_that_hangs_up_while_the_hub_is_behind_leaves_no_reader_behind(
    hub_config, enrol, station_key
) -> None:  # type: ignore[no-untyped-def]
    # Commits held back for 3 s: the stream's queue of records waiting for their commit fills up
    # (1,024) and the hub's reader waits for room in it when the station hangs up.
    async with HubServer(hub_config(group_commit_wait_ms=3000, group_commit_max=100_000)) as hub:
        enrolled = enrol(hub, station_key)
        await _hang_up_on(enrolled)


async def _hang_up_on(enrolled) -> None:  # type: ignore[no-untyped-def]
    service = enrolled.hub.ingest
    async with grpc.aio.insecure_channel(f"127.0.0.1:{enrolled.hub.port}") as channel:
        call = channel.stream_stream(SUBMIT_METHOD)(iter([b"\xff\xff\xff"] * 3000))
        deadline = asyncio.get_running_loop().time() + 20
        while (
            enrolled.hub.metrics.registry.get_sample_value("tongjian_hub_records_received_total") or 0
        ) < 1025:
            assert asyncio.get_running_loop().time() < deadline, "the hub did not read the envelopes"
            await asyncio.sleep(0.05)
        assert service.reading_streams == 1
        call.cancel()
    for _ in range(100):
        if not service.reading_streams:
            break
        await asyncio.sleep(0.05)
    assert not service.reading_streams

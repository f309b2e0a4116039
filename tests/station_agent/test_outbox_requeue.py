"""Dead letters: listed with the hub's reasons, and sent again once the cause is fixed, never re-signed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.server import HubConfig, HubServer
from inspection import InspectionRecord
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink
from tongjian.cli import main
from tongjian.commands.keys import write_key_pair

RecordFactory = Callable[..., InspectionRecord]


def park(outbox: OutboxStore, signer: RecordSigner, record: InspectionRecord, reason: str) -> bytes:
    envelope = signer.seal(record)
    outbox.put(envelope, str(record.record_id))
    (entry,) = [e for e in outbox.peek(0, 1000) if e.record_id == str(record.record_id)]
    assert outbox.move_to_rejected(entry.seq, reason)
    return entry.envelope_bytes


def test_requeue_puts_the_same_bytes_back_at_the_end_of_the_queue(
    outbox: OutboxStore, signer: RecordSigner, make_record: RecordFactory
) -> None:
    parked = park(outbox, signer, make_record(1), "unknown key id '50-0001/x': not registered at this hub")
    outbox.put(signer.seal(make_record(2)), str(make_record(2).record_id))
    assert outbox.requeue(str(make_record(1).record_id))
    first, second = outbox.peek(0, 10)
    assert first.record_id == str(make_record(2).record_id)  # the requeued record goes to the end
    assert second.envelope_bytes == parked  # byte for byte what was signed, not signed again
    assert outbox.rejected() == []
    assert not outbox.requeue(str(make_record(1).record_id))  # nothing parked under that id any more


def test_requeue_all_takes_every_dead_letter(
    outbox: OutboxStore, signer: RecordSigner, make_record: RecordFactory
) -> None:
    parked = [park(outbox, signer, make_record(i), f"reason {i}") for i in range(3)]
    assert outbox.requeue_all() == [str(make_record(i).record_id) for i in range(3)]
    assert [entry.envelope_bytes for entry in outbox.peek(0, 10)] == parked
    assert outbox.requeue_all() == []


def test_outbox_command_lists_dead_letters_with_reasons_and_pending(
    tmp_path: Path, signer: RecordSigner, make_record: RecordFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # A long path (a station's data directory, or pytest-xdist's) must not wrap the summary line
    # mid-phrase: it did, and "1 dead letters" was cut in two.
    directory = tmp_path / ("station-data-" + "x" * 90)
    directory.mkdir()
    path = directory / "outbox.sqlite3"
    with OutboxStore(path, 100) as outbox:
        park(outbox, signer, make_record(1), "unknown key id '50-0001/abc': not registered at this hub")
        outbox.put(signer.seal(make_record(2)), str(make_record(2).record_id))
    assert main(["agent", "outbox", "--outbox", str(path)]) == 0
    out = capsys.readouterr().out
    summary = f"outbox {path}: 1 pending, oldest "
    assert any(line.startswith(summary) and line.endswith("s; 1 dead letters") for line in out.splitlines())
    assert str(make_record(1).record_id) in out  # the whole id, to pass to requeue
    assert "not registered at this hub" in out


def test_outbox_requeue_command_refuses_what_it_cannot_do(
    tmp_path: Path, signer: RecordSigner, make_record: RecordFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.sqlite3"
    OutboxStore(path, 100).close()
    assert main(["agent", "outbox", "requeue", "--outbox", str(path)]) == 2
    assert "one record ID or --all" in capsys.readouterr().err
    assert main(["agent", "outbox", "--outbox", str(path), "requeue", "nope"]) == 2
    assert "no dead letter with record id nope" in capsys.readouterr().err
    assert main(["agent", "outbox", "requeue", "--all", "--outbox", str(tmp_path / "none.sqlite3")]) == 2
    assert "no such file" in capsys.readouterr().err


async def test_a_requeued_dead_letter_reaches_the_hub_as_signed_once_the_key_is_enrolled(
    tmp_path: Path, signer: RecordSigner, station_key: object, make_record: RecordFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # Records signed with a second key of the station that the hub does not know yet.
    new_private, new_public, _ = write_key_pair(signer.station_id, tmp_path / "new-key")
    new_signer = RecordSigner.from_pem_file(signer.station_id, new_private)
    path = tmp_path / "outbox.sqlite3"
    records = [make_record(i) for i in range(3)]
    with OutboxStore(path, 100) as outbox:
        for record in records:
            outbox.put(new_signer.seal(record), str(record.record_id))
        async with HubServer(HubConfig(database_url=f"sqlite:///{tmp_path}/hub.sqlite3")) as hub:
            hub.store.register_station(signer.station_id)
            uplink = Uplink(outbox, f"127.0.0.1:{hub.port}", backoff_min_s=0.05, poll_interval_s=0.1)
            await uplink.start()
            try:
                assert await uplink.drain(timeout=20)
                parked = {entry.record_id: entry.envelope_bytes for entry in outbox.rejected()}
                assert len(parked) == 3 and hub.store.count_records() == 0

                hub.store.add_station_key(signer.station_id, new_public.read_bytes())  # the cause, fixed
                assert main(["agent", "outbox", "requeue", "--all", "--outbox", str(path)]) == 0
                assert "requeued 3 records" in capsys.readouterr().out
                uplink.notify()
                assert await uplink.drain(timeout=20)
            finally:
                await uplink.stop()
            assert outbox.rejected() == []
            for record in records:
                stored = hub.store.get_record(str(record.record_id))
                sent = pb.SignedRecord.FromString(parked[str(record.record_id)])
                assert (stored.payload, stored.signature, stored.key_id) == (
                    sent.record,
                    sent.signature,
                    sent.key_id,
                )

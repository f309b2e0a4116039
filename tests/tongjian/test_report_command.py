"""``tongjian report``: from a record file or a hub database to a PDF and PNG; bad input exits 2."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspection import InspectionRecord
from inspection.verdicts import judge
from protos.record_mapping import record_to_bytes
from tongjian.cli import main

RecordFactory = object


@pytest.fixture
def judged_record(make_record) -> InspectionRecord:  # type: ignore[no-untyped-def]
    record = make_record(7)
    return replace(record, station_verdict=judge(record))


def test_report_from_a_record_file(judged_record: InspectionRecord, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    record_file = tmp_path / "record.bin"
    record_file.write_bytes(record_to_bytes(judged_record))
    status = main(
        [
            "report",
            str(judged_record.record_id),
            "--record-file",
            str(record_file),
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert status == 0
    pdf = tmp_path / "r" / f"{judged_record.record_id}.pdf"
    png = tmp_path / "r" / f"{judged_record.record_id}.png"
    assert pdf.read_bytes().startswith(b"%PDF-") and png.read_bytes().startswith(b"\x89PNG")
    assert str(pdf) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda rid, f: ["not-a-uuid", "--record-file", f], "record id 'not-a-uuid' is not a UUID"),
        (lambda rid, f: [str(uuid.uuid4()), "--record-file", f], "holds record"),
        (lambda rid, f: [rid, "--record-file", f + ".missing"], "record.bin.missing"),
    ],
)
def test_report_refuses_bad_input_with_a_reason(
    make_args,
    message: str,
    judged_record: InspectionRecord,
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    record_file = tmp_path / "record.bin"
    record_file.write_bytes(record_to_bytes(judged_record))
    assert (
        main(["report", *make_args(str(judged_record.record_id), str(record_file)), "--out", str(tmp_path)])
        == 2
    )
    assert message in capsys.readouterr().err


def test_a_file_that_is_not_a_record_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\xff\xff\xff garbage")
    assert main(["report", str(uuid.uuid4()), "--record-file", str(bad)]) == 2
    assert "bad.bin" in capsys.readouterr().err


def test_unknown_record_id_in_the_hub_database_is_named(database_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    from hub.store import HubStore

    store = HubStore(database_url)
    store.migrate()
    store.dispose()
    missing = str(uuid.uuid4())
    assert main(["report", missing, "--database-url", database_url]) == 2
    assert f"no record {missing}" in capsys.readouterr().err


def test_report_from_the_hub_database_shows_the_hub_verdict(
    database_url: str, judged_record: InspectionRecord, tmp_path: Path, station_key
) -> None:  # type: ignore[no-untyped-def]
    from hub.store import HubStore, RecordRow
    from hub.verdict import verdict_from_json, verdict_to_json
    from protos.envelope import load_private_key, seal

    payload = record_to_bytes(judged_record)
    hub_verdict = judge(judged_record)
    store = HubStore(database_url)
    store.migrate()
    store.register_station(judged_record.station_id, "50")
    key_id = store.add_station_key(judged_record.station_id, station_key.public_path.read_bytes())
    signature = seal(payload, key_id, load_private_key(station_key.private_path.read_bytes())).signature
    store.commit_batch(
        [
            RecordRow(
                station_id=judged_record.station_id,
                record_id=str(judged_record.record_id),
                key_id=key_id,
                payload=payload,
                payload_sha256=hashlib.sha256(payload).hexdigest(),
                signature=signature,
                received_at=datetime.now(UTC),
                vin=judged_record.vehicle.vin,
                plate=judged_record.vehicle.plate,
                finished_at=judged_record.finished_at,
                station_overall=judged_record.station_verdict.overall.value,  # type: ignore[union-attr]
                hub_overall=hub_verdict.overall.value,
                hub_verdict=verdict_to_json(hub_verdict),
                verdict_mismatch=False,
            )
        ]
    )
    store.dispose()
    assert verdict_from_json(verdict_to_json(hub_verdict)) == hub_verdict
    out = tmp_path / "hub-report"
    assert (
        main(["report", str(judged_record.record_id), "--database-url", database_url, "--out", str(out)]) == 0
    )
    assert (out / f"{judged_record.record_id}.png").exists()

"""``tongjian sim fleet --csv`` and ``tongjian hub vehicles import|show|history``, run as the operator does."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.envelope_check import EnvelopeLimits, verify_envelope
from hub.records import record_row
from hub.store import HubStore
from inspection.register_identity import BodyColour, parse_colour, parse_engine_number
from inspection.vehicle_register_csv import COLUMNS
from tongjian.cli import main


def _migrated(url: str) -> str:
    assert main(["hub", "migrate", "--database-url", url]) == 0
    return url


def test_a_fleet_written_by_sim_fleet_imports_and_shows(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _migrated(database_url)
    register = tmp_path / "register-50.csv"
    assert (
        main(["sim", "fleet", "--count", "2500", "--seed", "11", "--province", "50", "--csv", str(register)])
        == 0
    )
    capsys.readouterr()
    assert main(["hub", "vehicles", "import", str(register), "--province", "50", "--database-url", url]) == 0
    captured = capsys.readouterr()
    # Live counts while importing (one line a batch), the summary at the end.
    assert captured.err.splitlines()[0].startswith("1000 rows: 1000 inserted")
    assert (
        "2500 rows; 2500 inserted, 0 updated, 0 unchanged, 0 registered in another province" in captured.out
    )
    with register.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    first = rows[0]
    assert first["plate"].startswith("渝") and first["registration_province"] == "50"
    # Every generated car has an engine number and a colour class, plausibly spread.
    assert all(parse_engine_number(row["engine_number"]) == row["engine_number"] for row in rows)
    assert len({row["engine_number"] for row in rows}) == len(rows)
    colours = Counter(parse_colour(row["colour"]) for row in rows)
    assert colours.most_common(1)[0][0] is BodyColour.WHITE and len(colours) >= 6
    assert main(["hub", "vehicles", "show", first["vin"], "--json", "--database-url", url]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["vehicles"]
    assert {column: shown[column] for column in COLUMNS} == first
    assert shown["status"] == "active"
    assert main(["hub", "vehicles", "show", first["plate"], "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert first["vin"] in out and "owner_ref" in out and first["owner_ref"] in out
    # Importing it again changes nothing; into province 51 every row is someone else's.
    assert main(["hub", "vehicles", "import", str(register), "--province", "50", "--database-url", url]) == 0
    assert "0 inserted, 0 updated, 2500 unchanged" in capsys.readouterr().out
    assert main(["hub", "vehicles", "import", str(register), "--province", "51", "--database-url", url]) == 0
    assert "2500 registered in another province (skipped)" in capsys.readouterr().out


def test_bad_rows_are_named_and_make_the_exit_status_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _migrated(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    register = tmp_path / "register.csv"
    assert main(["sim", "fleet", "--count", "4", "--province", "50", "--csv", str(register)]) == 0
    lines = register.read_text(encoding="utf-8").splitlines()
    vin = lines[2].split(",")[0]
    lines[2] = lines[2].replace(vin, vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:], 1)
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["hub", "vehicles", "import", str(register), "--province", "50", "--database-url", url]) == 1
    out = capsys.readouterr().out
    assert "3 inserted" in out and "1 bad" in out
    assert "bad: line 3, column vin: check digit is" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["import", "{missing}", "--province", "50"], "No such file"),
        (["import", "{header}", "--province", "50"], "line 1, column paint: unknown column"),
        (["import", "{header}", "--province", "99"], "--province '99': not a GB/T 2260 province code"),
        (["show", "渝A00000"], "no vehicle with VIN or plate '渝A00000'"),
        (["history", "NOT-A-VIN"], "invalid vin 'NOT-A-VIN'"),
    ],
)
def test_operator_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    url = _migrated(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    header = tmp_path / "header.csv"
    header.write_text(",".join([*COLUMNS, "paint"]) + "\n", encoding="utf-8")
    files = {"missing": str(tmp_path / "missing.csv"), "header": str(header)}
    argv = ["hub", "vehicles", *(a.format(**files) for a in arguments), "--database-url", url]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_history_lists_each_inspection_with_where_and_whether_it_verifies(
    tmp_path: Path, station_key, make_record, signer, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    url = _migrated(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    store = HubStore(url)
    try:
        store.register_station(station_key.station_id, province="51")
        store.add_station_key(station_key.station_id, station_key.public_path.read_bytes())
        record = make_record(4)
        received = datetime.now(UTC)
        verified = verify_envelope(signer.seal(record), store.known_keys(), EnvelopeLimits(), received)
        store.commit_batch([record_row(verified, received, None)])
    finally:
        store.dispose()
    vin = record.vehicle.vin
    capsys.readouterr()
    assert main(["hub", "vehicles", "history", vin, "--json", "--database-url", url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["register_status"] == "not in this province's register"
    (entry,) = shown["inspections"]
    assert entry["record_id"] == str(record.record_id)
    assert (entry["inspected_in"], entry["verifies"], entry["origin"]) == ("51", True, "local")
    assert main(["hub", "vehicles", "history", vin, "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert station_key.station_id in out and "yes" in out and "1 inspections" in out

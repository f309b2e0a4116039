"""``tongjian demo`` end to end: hub over mTLS, two simulated lanes, the PDA, the hub's database read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspection import AsmRun, LugDownRun
from tongjian.cli import main
from tongjian.demo import run_demo

pytestmark = pytest.mark.slow


async def test_every_demo_record_arrives_once_as_signed_with_agreeing_verdicts(tmp_path: Path) -> None:
    result = await run_demo(tmp_path, vehicles=4, seed=3)
    assert not result.aborted
    # The console and the PDA page were served, with a sign-in for each console role.
    assert result.console_url is not None and result.console_url.startswith("http://127.0.0.1:")
    assert set(result.sign_ins) == {"reviewer", "senior-reviewer", "registry-clerk", "admin"}
    assert result.pda_page_url is not None and result.pda_page_url.startswith("https://127.0.0.1:")
    assert len(result.checks) == 4
    fuels = {str(check.inspected.vehicle.fuel) for check in result.checks}
    assert {"petrol", "diesel"} <= fuels
    assert {check.inspected.lane for check in result.checks} == {1, 2}
    # Issue 20's lane: on lane 1 (the rollers) the petrol car runs ASM + OBD and the diesel lug-down
    # + OBD; lane 2 has no dynamometer, so its cars take the no-load fallbacks.
    tests: set[tuple[int, str, type | None, bool]] = set()
    for check in result.checks:
        record = check.inspected.record
        assert record is not None and record.station_verdict is not None
        tests.add(
            (
                check.inspected.lane,
                str(record.vehicle.fuel),
                type(record.emission) if record.emission is not None else None,
                record.obd is not None,
            )
        )
        if record.obd is not None:
            assert record.obd.communicated and not record.obd.mil_on
            codes = {item.code for item in record.station_verdict.items}
            assert "obd.communication" in codes and "obd.vin.match" in codes
    assert {(1, "petrol", AsmRun, True), (1, "diesel", LugDownRun, True)} <= tests
    assert not {t for t in tests if t[0] == 2 and t[2] in (AsmRun, LugDownRun)}
    for check in result.checks:
        assert check.stored and check.bytes_identical and check.signature_valid, check
        assert check.hub_overall == check.station_overall and not check.mismatch
    # Cars registered in Chongqing went on from the Sichuan hub and verify at the Chongqing hub.
    travelled = [c for c in result.checks if c.inspected.vehicle.registration_province == "50"]
    assert travelled and len(result.journeys) == len(travelled)
    for journey in result.journeys:
        assert journey.ok, journey
        assert journey.stored_at is not None and journey.arrived_at is not None
        assert journey.queued_at == journey.stored_at  # queued in the transaction that stored it
        assert journey.stored_at <= journey.arrived_at
    # E-labels: one per passed record; a Chongqing car's exemption applied for in Sichuan.
    labels = result.labels
    assert labels is not None and labels.passed_records >= 1
    assert labels.inspection_labels == labels.passed_records
    assert (
        labels.exemption is not None and labels.exemption.granted and labels.exemption.issuer_province == "51"
    )
    assert labels.recorded_at_registration and labels.png_round_trip
    assert labels.check is not None and labels.check.valid
    assert labels.after_revocation is not None and [
        p.fault.value for p in labels.after_revocation.problems
    ] == ["revoked"]
    # Archive transfer: the first travelling Chongqing car moves to Sichuan under a new 川 plate.
    transfer = result.transfer
    assert transfer is not None and transfer.ok, transfer
    assert transfer.vin == result.journeys[0].inspected.vehicle.vin and transfer.new_plate.startswith("川A")
    assert transfer.files > 0 and transfer.released
    assert result.ok
    assert result.report_png is not None and result.report_png.stat().st_size > 10_000


def test_the_demo_command_exits_zero_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--vehicles", "2", "--workdir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "What the Sichuan (川) hub stored (2 records)" in out
    assert "ASM + OBD" in out and "lug-down + OBD" in out
    assert "Cross-province: 1 Chongqing (渝) cars inspected at Sichuan station 51-0001" in out
    assert "渝 hub stored it: countersignature checked against the national trust list" in out
    assert "all records arrived verified" in out
    assert "verified offline: VALID" in out and "after revocation: revoked" in out
    assert "archive transfer (异地转籍) of 渝" in out and "渝 hub told: releases the car" in out
    assert (tmp_path / "demo" / "hub-51.sqlite3").exists() and (tmp_path / "demo" / "hub-50.sqlite3").exists()


def test_the_demo_refuses_a_silly_vehicle_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--vehicles", "0"]) == 2
    assert "--vehicles must be between 1 and 200" in capsys.readouterr().err

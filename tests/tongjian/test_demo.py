"""``tongjian demo`` end to end: hub over mTLS, two simulated lanes, the PDA, the hub's database read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tongjian.cli import main
from tongjian.demo import run_demo

pytestmark = pytest.mark.slow


async def test_every_demo_record_arrives_once_as_signed_with_agreeing_verdicts(tmp_path: Path) -> None:
    result = await run_demo(tmp_path, vehicles=4, seed=3)
    assert not result.aborted
    assert len(result.checks) == 4
    fuels = {str(check.inspected.vehicle.fuel) for check in result.checks}
    assert {"petrol", "diesel"} <= fuels
    assert {check.inspected.lane for check in result.checks} == {1, 2}
    for check in result.checks:
        assert check.stored and check.bytes_identical and check.signature_valid, check
        assert check.hub_overall == check.station_overall and not check.mismatch
    assert result.ok
    assert result.report_png is not None and result.report_png.stat().st_size > 10_000


def test_the_demo_command_exits_zero_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--vehicles", "2", "--workdir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "What the province hub stored (2 records)" in out
    assert "all records arrived verified" in out
    assert (tmp_path / "demo" / "hub.sqlite3").exists()


def test_the_demo_refuses_a_silly_vehicle_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--vehicles", "0"]) == 2
    assert "--vehicles must be between 1 and 200" in capsys.readouterr().err

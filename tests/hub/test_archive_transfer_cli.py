"""``tongjian archive request | status | check-identity | accept | refuse`` against two running
hubs: a registry clerk at Sichuan moves a Chongqing car with the command line, and bad arguments
are named."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hub.vehicle_register import VehicleStatus
from tests.hub.transfer_rig import TransferRig, wait_until
from tongjian.cli import main


async def _tongjian(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # The command runs its own event loop: in a thread, while the hubs keep serving on this one.
    status = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_a_clerk_moves_a_car_with_the_command_line(
    transfer_rig: TransferRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = ["--hub", transfer_rig.sichuan.endpoint, "--insecure"]
    code, out, _ = await _tongjian(capsys, "archive", "request", transfer_rig.vin, "--from", "50", *hub)
    assert code == 0, out
    transfer_id = out.split()[1]
    assert (
        f"transfer {transfer_id}: received" in out
        and "files" in out
        and f"plate: {transfer_rig.plate}" in out
    )

    code, out, _ = await _tongjian(capsys, "archive", "status", transfer_id, "--json", *hub)
    shown = json.loads(out)
    assert (code, shown["state"], shown["vin"], shown["role"]) == (
        0,
        "received",
        transfer_rig.vin,
        "destination",
    )

    photo = tmp_path / "front.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 the car \xff\xd9")
    seen = ["--engine-number", "EA888-1", "--colour", "white", "--photo", str(photo)]
    code, out, _ = await _tongjian(
        capsys, "archive", "check-identity", transfer_id, "--vin", "LSVAU218XN2183294", *seen, *hub
    )
    assert code == 1 and "mismatch: vin: the car shows 'LSVAU218XN2183294'" in out
    code, out, _ = await _tongjian(
        capsys, "archive", "check-identity", transfer_id, "--vin", transfer_rig.vin, *seen, *hub
    )
    assert code == 0 and "identity_checked" in out

    code, out, _ = await _tongjian(capsys, "archive", "accept", transfer_id, *hub)
    assert code == 0 and f"transfer {transfer_id}: accepted" in out and f"{transfer_rig.plate} -> 川A" in out
    await wait_until(
        lambda: (
            transfer_rig.chongqing.hub.store.vehicles.get(transfer_rig.vin).status
            is VehicleStatus.TRANSFERRED_OUT
        ),  # type: ignore[union-attr]
        "Chongqing releases the car",
    )

    # Bad arguments and refused calls: exit 2, one line naming what was wrong.
    for argv, words in (
        (["archive", "request", "NOT-A-VIN", "--from", "50", *hub], "INVALID_ARGUMENT: invalid vin"),
        (["archive", "refuse", transfer_id, "--reason", "late", *hub], "FAILED_PRECONDITION"),
        (["archive", "status", "nope", *hub], "INVALID_ARGUMENT: transfer id 'nope' is not a UUID"),
        (["archive", "accept", transfer_id, "--hub", "nowhere", "--insecure"], "needs HOST:PORT"),
        (["archive", "check-identity", transfer_id, "--vin", "V", *seen[:4], "--photo", "missing.jpg", *hub],
         "--photo missing.jpg"),
    ):  # fmt: skip
        code, _, err = await _tongjian(capsys, *argv)
        assert code == 2 and words in err, (argv, err)


def test_hub_serve_takes_archive_transfers_only_with_federation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["hub", "serve", "--insecure", "--database-url", f"sqlite:///{tmp_path / 'hub.sqlite3'}"]
    assert main([*argv, "--archive-dir", str(tmp_path / "archives")]) == 2
    assert "--archive-dir needs federation (--hub-key and --national-key)" in capsys.readouterr().err
    assert main([*argv, "--archive-dir", str(tmp_path / "archives"), "--replica-id", "hub a"]) == 2
    assert "--replica-id 'hub a': 1..48 letters" in capsys.readouterr().err
    assert main([*argv, "--replica-id", "hub-a"]) == 2
    assert "--replica-id names a replica taking part in archive transfers" in capsys.readouterr().err

"""``tongjian label``: a hub issues labels for passed records; sync, render, verify offline,
revoke, and the reasons a bad label is bad, all through the CLI against a real hub."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.label_book import inspection_serial
from hub.server import HubServer
from inspection import BrakeKind, InspectionRecord, Verdict
from inspection.measurements import BrakeTest
from inspection.verdicts import DEFAULT_LIMITS, judge_brakes
from tongjian.cli import main

pytestmark = pytest.mark.asyncio
AT = "2027-01-01T10:00:00+08:00"


def brakes_only(record: InspectionRecord) -> Verdict:
    return Verdict(tuple(judge_brakes(record.vehicle, record.axles, DEFAULT_LIMITS)))


def with_parking_brake(record: InspectionRecord) -> InspectionRecord:
    parking = BrakeTest(BrakeKind.PARKING, 1500.0, 1400.0, None, None, False, False, None, 8)
    return dataclasses.replace(
        record, axles=(record.axles[0], dataclasses.replace(record.axles[1], parking=parking))
    )


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_issue_sync_render_verify_revoke(
    hub_config: Any,
    enrol: Any,
    submit: Any,
    station_key: Any,
    make_record: Any,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    records = [with_parking_brake(make_record(i)) for i in range(2)]
    config = hub_config(
        judge=brakes_only, label_key=Ed25519PrivateKey.generate(), label_issue_interval_s=0.05
    )
    async with HubServer(config) as hub:
        station = enrol(hub, station_key)
        await submit(hub.port, [station.seal(r) for r in records])
        assert hub.labels is not None and hub.label_issuer is not None
        for _ in range(200):
            if len(hub.labels.by_vin(records[1].vehicle.vin)) == 1:
                break
            await asyncio.sleep(0.05)
        good, bad = (hub.labels.by_vin(r.vehicle.vin)[0].claims.serial for r in records)
        db, cache = ("--database-url", database_url), ("--cache", str(tmp_path / "trust.json"))

        assert await cli("label", "revoke", bad, "--reason", "post-review rejected", *db) == 0
        assert await cli("label", "sync", "--hub", f"127.0.0.1:{hub.port}", "--insecure", *cache) == 0
        assert "1 revoked" in capsys.readouterr().out

        png = tmp_path / "good.png"
        assert await cli("label", "render", good, "--out", str(png), *db) == 0
        assert "written to" in capsys.readouterr().out
        assert (
            await cli("label", "verify", str(png), *cache, "--at", AT, "--vin", records[0].vehicle.vin) == 0
        )
        shown = capsys.readouterr().out
        assert "VALID" in shown and "not revoked as of" in shown and records[0].vehicle.vin in shown

        token = hub.labels.get(good).token  # type: ignore[union-attr]
        assert await cli("label", "verify", token, *cache, "--at", AT, "--vin", records[1].vehicle.vin) == 1
        assert "INVALID  wrong vehicle" in capsys.readouterr().out
        assert await cli("label", "verify", token, *cache, "--at", "2031-01-01T00:00:00+08:00") == 1
        assert "INVALID  expired: valid until 2028-05-01" in capsys.readouterr().out
        altered = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
        assert await cli("label", "verify", altered, *cache, "--at", AT) == 1
        assert "INVALID  altered" in capsys.readouterr().out

        revoked = hub.labels.get(bad).token  # type: ignore[union-attr]
        assert await cli("label", "verify", revoked, *cache, "--at", AT) == 1
        assert "INVALID  revoked" in capsys.readouterr().out

        stranger = tmp_path / "stranger.json"
        stranger.write_text('{"format": 1, "hub_keys": []}')
        assert await cli("label", "verify", token, "--cache", str(stranger), "--at", AT) == 1
        assert "INVALID  unknown issuer" in capsys.readouterr().out


async def test_cli_errors_are_one_line(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("hub", "migrate", "--database-url", database_url) == 0
    capsys.readouterr()
    assert (
        await cli(
            "label",
            "render",
            inspection_serial("50", 7),
            "--out",
            str(tmp_path / "x.png"),
            "--database-url",
            database_url,
        )
        == 2
    )
    assert "no label with serial '50-I-0000000007'" in capsys.readouterr().err
    assert await cli("label", "revoke", "50-I-1", "--reason", "x", "--database-url", database_url) == 2
    assert await cli("label", "verify", "TJ1:ABC", "--cache", str(tmp_path / "none.json")) == 2
    assert "label sync" in capsys.readouterr().err
    assert (
        await cli("label", "verify", str(tmp_path / "nothing.png"), "--cache", str(tmp_path / "none.json"))
        == 2
    )
    assert "neither a label text" in capsys.readouterr().err


async def test_apply_for_an_exemption_at_the_registration_hub(
    hub_config: Any, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    from inspection import Fuel, Vehicle, VehicleClass, VehicleUse
    from inspection.vehicle_register_csv import RegisterRow

    vin = "LFV2A21KXNA000017"
    vehicle = Vehicle(
        vin,
        "渝A00017",
        "50",
        VehicleClass.M1,
        Fuel.PETROL,
        5,
        VehicleUse.NON_OPERATING,
        date(2023, 3, 15),
        1350,
        1800,
        2,
    )
    async with HubServer(hub_config(label_key=Ed25519PrivateKey.generate())) as hub:
        hub.store.vehicles.import_rows([RegisterRow(2, vehicle, "owner-17")], "50")
        db = ("--database-url", database_url)
        hub_args = ("--hub", f"127.0.0.1:{hub.port}", "--insecure")
        apply = ("label", "apply", "--vin", vin, "--plate", "渝A00017", "--date", "2025-02-01", *hub_args)

        assert await cli(*apply) == 1  # nothing known of its insurance and tax yet
        assert "REFUSED  (reform_2022): insurance_not_valid, vehicle_tax_unpaid" in capsys.readouterr().out
        assert await cli("label", "standing", vin, "--insurance-until", "2025-12-31", "--tax-paid", *db) == 0
        assert await cli(*apply) == 0
        granted = capsys.readouterr().out
        assert "GRANTED" in granted and "2025-02-01 .. 2027-03-15" in granted
        token = granted.strip().splitlines()[-1]
        assert await cli(*apply) == 0 and capsys.readouterr().out.strip().splitlines()[-1] == token

        cache = ("--cache", str(tmp_path / "trust.json"))
        assert await cli("label", "sync", *hub_args, *cache) == 0
        assert (
            await cli("label", "verify", token, *cache, "--at", "2026-01-01T00:00:00+08:00", "--vin", vin)
            == 0
        )

        assert await cli("label", "apply", "--vin", vin, "--plate", "川A00017", *hub_args) == 2
        assert "no link to the hub of province 51" in capsys.readouterr().err
        assert await cli("label", "standing", "LFV2A21K9NA000025", "--tax-paid", *db) == 2

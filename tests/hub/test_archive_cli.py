"""``tongjian archive export`` and ``check`` as an operator runs them, against a real hub's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.hub.conftest import Exported
from tongjian.cli import main


def _pems(exported: Exported, directory: Path) -> tuple[Path, Path, Path]:
    hub_key = directory / "hub.pem"
    hub_key.write_bytes(
        exported.chongqing.hub_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    hub_public = directory / "hub.pub.pem"
    hub_public.write_bytes(
        exported.chongqing.hub_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    national = directory / "national.pub.pem"
    national.write_bytes(
        exported.national.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return hub_key, hub_public, national


async def test_export_then_check_and_every_bad_item_named_with_exit_1(
    exported: Exported, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_key, hub_public, national = _pems(exported, tmp_path)
    url = exported.chongqing.database_url
    bag = tmp_path / "cli-bag"
    export = ["archive", "export", exported.vin, str(bag), "--database-url", url, "--hub-key", str(hub_key)]
    assert main([*export, "--province", "50"]) == 0
    assert "3 local and 2 forwarded records" in capsys.readouterr().out

    assert main(["archive", "check", str(bag), "--national-key", str(national)]) == 0
    assert "every item verifies" in capsys.readouterr().out

    # The hub key alone cannot vouch for the other province's countersignatures: named, exit 1.
    assert main(["archive", "check", str(bag), "--hub-public-key", str(hub_public)]) == 1
    out = capsys.readouterr().out
    assert "data/records/forwarded/000001.signeddocument: unchecked:" in out and "2 bad item(s)" in out

    record = bag / "data/records/local/000001.signedrecord"
    record.write_bytes(record.read_bytes()[:-1])
    (bag / "data/records/forwarded/000002.signeddocument").unlink()
    assert main(["archive", "check", str(bag), "--national-key", str(national)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("data/records/local/000001.signedrecord: altered:") for line in lines)
    assert any(line.startswith("data/records/forwarded/000002.signeddocument: missing:") for line in lines)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["check", "{tmp}/nowhere", "--national-key", "{national}"], "nowhere: not a directory"),
        (["check", "{tmp}", "--national-key", "{tmp}/absent.pem"], "--national-key {tmp}/absent.pem:"),
        (["check", "{tmp}", "--hub-public-key", "{hub_key}"], "--hub-public-key {hub_key}:"),
        (
            ["export", "LFV2A21K0NA999999", "{tmp}/b", "--database-url", "{url}", "--hub-key", "{hub_key}"],
            "not in this province's register",
        ),
        (["export", "{vin}", "{bag}", "--database-url", "{url}", "--hub-key", "{hub_key}"], "already exists"),
        (["export", "{vin}", "{tmp}/b", "--database-url", "{url}", "--hub-key", "{national}"], "--hub-key"),
    ],
)
async def test_operator_mistakes_are_one_line_errors(
    exported: Exported,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    hub_key, _, national = _pems(exported, tmp_path)
    values = {
        "tmp": str(tmp_path),
        "national": str(national),
        "hub_key": str(hub_key),
        "url": exported.chongqing.database_url,
        "vin": exported.vin,
        "bag": str(exported.bag),
    }
    assert main(["archive", *(a.format(**values) for a in arguments)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("tongjian archive: error: ")
    assert message.format(**values) in error

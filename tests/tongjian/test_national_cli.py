"""``tongjian national`` and ``tongjian hub trust-list`` / ``hub directory``: a national key, a trust
list edited version by version, installed at a hub; a peer's directory shown from the hub's cache."""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.published_directory import PeerDirectoryCache, sign_directory
from hub.store import HubStore
from pki.authority import init_ca
from protos.envelope import load_private_key
from protos.signed_document import parse_document
from protos.tongjian.v1 import federation_pb2
from tongjian.cli import main
from tongjian.commands.keys import write_key_pair


@dataclass(frozen=True)
class Setup:
    national: Path  # directory with national.key.pem / national.pub.pem
    trust_list: Path
    hub_keys: dict[str, Path]  # province -> hub key directory
    peer_cas: dict[str, Path]  # province -> CA certificate

    @property
    def key(self) -> str:
        return str(self.national / "national.key.pem")

    @property
    def pub(self) -> str:
        return str(self.national / "national.pub.pem")

    def add(self, province: str, *extra: str, endpoint: str | None = None) -> list[str]:
        return [
            "national", "add-province", "--key", self.key, "--list", str(self.trust_list),
            "--province", province, "--name", {"50": "Chongqing", "51": "Sichuan"}.get(province, "X"),
            "--endpoint", endpoint or f"hub{province}.example:7443", "--peer-name", f"peer-hub-{province}",
            "--peer-ca", str(self.peer_cas.get(province, self.peer_cas["50"])),
            "--hub-key", str(self.hub_keys.get(province, self.hub_keys["50"]) / "hub.pub.pem"), *extra,
        ]  # fmt: skip


@pytest.fixture
def setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Setup:
    assert main(["national", "init", "--out", str(tmp_path / "national")]) == 0
    out = capsys.readouterr().out
    assert "national/" in out and "keep it offline" in out
    hub_keys, peer_cas = {}, {}
    for province in ("50", "51"):
        write_key_pair(f"hub-{province}", tmp_path / f"hub{province}", name="hub")
        hub_keys[province] = tmp_path / f"hub{province}"
        peer_cas[province] = init_ca(tmp_path / f"ca{province}", f"peer CA {province}").cert_path
    return Setup(tmp_path / "national", tmp_path / "trust-list.bin", hub_keys, peer_cas)


def _version(path: Path) -> int:
    document = parse_document(path.read_bytes(), "test")
    return federation_pb2.TrustList.FromString(document.body).version


def test_init_writes_a_private_key_only_its_owner_reads_and_refuses_to_overwrite(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    mode = stat.S_IMODE((setup.national / "national.key.pem").stat().st_mode)
    assert mode == 0o600
    assert main(["national", "init", "--out", str(setup.national)]) == 2
    assert "exists (use --force" in capsys.readouterr().err
    before = (setup.national / "national.pub.pem").read_bytes()
    assert main(["national", "init", "--out", str(setup.national), "--force"]) == 0
    assert (setup.national / "national.pub.pem").read_bytes() != before


def test_add_show_and_remove_provinces_version_by_version(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.add("50")) == 0
    assert "version 1, province 50 added" in capsys.readouterr().out
    assert main(setup.add("51", "--days", "7")) == 0
    assert "version 2, province 51 added" in capsys.readouterr().out
    assert _version(setup.trust_list) == 2
    assert stat.S_IMODE(setup.trust_list.stat().st_mode) == 0o644

    assert (
        main(["national", "show", str(setup.trust_list), "--national-key", setup.pub, "--format", "json"])
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 2 and shown["expired"] is False
    assert [(p["province"], p["name"], p["peer_name"]) for p in shown["provinces"]] == [
        ("50", "Chongqing", "peer-hub-50"),
        ("51", "Sichuan", "peer-hub-51"),
    ]
    assert shown["provinces"][1]["hub_key_id"].startswith("hub-51/")
    assert "peer CA 51" in shown["provinces"][1]["peer_ca"]
    assert main(["national", "show", str(setup.trust_list), "--national-key", setup.pub]) == 0
    table = capsys.readouterr().out
    assert "version 2" in table and "Sichuan" in table and "hub51.example:7443" in table

    assert main(setup.add("51", endpoint="hub51-new.example:7443")) == 0  # replaced, not duplicated
    assert "version 3" in capsys.readouterr().out
    remove = ["national", "remove-province", "--key", setup.key, "--list", str(setup.trust_list)]
    assert main([*remove, "--province", "50"]) == 0
    assert "version 4, province 50 removed" in capsys.readouterr().out
    assert (
        main(["national", "show", str(setup.trust_list), "--national-key", setup.pub, "--format", "json"])
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert [(p["province"], p["endpoint"]) for p in shown["provinces"]] == [("51", "hub51-new.example:7443")]
    assert main([*remove, "--province", "50"]) == 2
    assert "province '50' is not in version 4" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.add("50", endpoint="no-port"), "bad_endpoint"),
        (lambda s: s.add("99"), "bad_province_code"),
        (lambda s: [*s.add("50"), "--days", "0"], "--days 0 must be 1..366"),
        (lambda s: [*s.add("50")[:-1], str(s.peer_cas["50"])], "hub key"),  # a certificate is no Ed25519 key
        (
            lambda s: [
                a if a != str(s.peer_cas["50"]) else str(s.hub_keys["50"] / "hub.pub.pem")
                for a in s.add("50")
            ],
            "bad_ca_pem",
        ),
    ],
)
def test_a_bad_edit_names_the_problem_and_leaves_the_file_as_it_was(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    change,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    assert main(setup.add("51")) == 0
    before = setup.trust_list.read_bytes()
    capsys.readouterr()
    assert main(change(setup)) == 2
    assert message in capsys.readouterr().err
    assert setup.trust_list.read_bytes() == before
    assert [p.name for p in setup.trust_list.parent.iterdir() if p.name.startswith(".trust-list")] == []


def test_a_tampered_or_foreign_list_is_refused(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.add("50")) == 0
    capsys.readouterr()
    document = parse_document(setup.trust_list.read_bytes(), "test")
    document.body = document.body[:-1] + bytes([document.body[-1] ^ 1])
    tampered = tmp_path / "tampered.bin"
    tampered.write_bytes(document.SerializeToString())
    assert main(["national", "show", str(tampered), "--national-key", setup.pub]) == 2
    assert "signature does not match" in capsys.readouterr().err
    assert main(["national", "init", "--out", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    other_key = str(tmp_path / "other" / "national.key.pem")
    assert (
        main(
            [
                "national",
                "remove-province",
                "--key",
                other_key,
                "--list",
                str(setup.trust_list),
                "--province",
                "50",
            ]
        )
        == 2
    )
    assert "does not name the trusted key" in capsys.readouterr().err
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\xff\xfe not a document")
    assert main(["national", "show", str(garbage), "--national-key", setup.pub]) == 2
    assert "not a signed document" in capsys.readouterr().err
    assert main(["national", "show", str(tmp_path / "missing.bin"), "--national-key", setup.pub]) == 2
    assert "missing.bin" in capsys.readouterr().err


# ---------------------------------------------------------------- the hub side


def test_a_hub_installs_the_list_and_shows_a_peers_directory(
    setup: Setup, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", database_url]
    assert main(["hub", "migrate", *db]) == 0
    assert main(setup.add("50")) == 0
    assert main(setup.add("51")) == 0
    capsys.readouterr()

    assert main(["hub", "trust-list", "show", "--national-key", setup.pub, *db]) == 2
    assert "no trust list installed" in capsys.readouterr().err
    assert (
        main(["hub", "trust-list", "install", str(setup.trust_list), "--national-key", setup.pub, *db]) == 0
    )
    assert "version 2 installed: provinces 50 51" in capsys.readouterr().out
    assert (
        main(["hub", "trust-list", "install", str(setup.trust_list), "--national-key", setup.pub, *db]) == 2
    )
    assert "version 2 is not newer than the installed version 2" in capsys.readouterr().err
    assert main(["hub", "trust-list", "show", "--national-key", setup.pub, "--format", "json", *db]) == 0
    assert [p["province"] for p in json.loads(capsys.readouterr().out)["provinces"]] == ["50", "51"]

    # Province 51's own hub: one station, two keys, one revoked; its signed directory reaches hub 50.
    sichuan = HubStore(f"sqlite:///{tmp_path / 'hub51.sqlite3'}")
    here = HubStore(database_url)
    try:
        sichuan.migrate()
        sichuan.register_station("51-0001", province="51")
        old = sichuan.add_station_key("51-0001", _public_pem())
        new = sichuan.add_station_key("51-0001", _public_pem())
        sichuan.revoke_key(old, datetime(2026, 1, 1, tzinfo=UTC))
        hub_key = load_private_key((setup.hub_keys["51"] / "hub.key.pem").read_bytes())
        now = datetime.now(UTC)
        document = sign_directory(sichuan.directory, "51", hub_key, "hub-51", now)
        PeerDirectoryCache(here.database).offer("51", document, hub_key.public_key(), now)
    finally:
        sichuan.dispose()
        here.dispose()

    assert main(["hub", "directory", "show", "--format", "json", *db]) == 0
    (cached,) = json.loads(capsys.readouterr().out)["directories"]
    assert (cached["province"], cached["sequence"], cached["state"]) == ("51", 3, "current")
    show = ["hub", "directory", "show", "--province", "51", "--format", "json", *db]
    assert main(show) == 2
    assert "--province needs --national-key" in capsys.readouterr().err
    assert main([*show, "--national-key", setup.pub]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sequence"] == 3 and shown["expired"] is False
    assert {key["key_id"]: key["status"] for key in shown["keys"]} == {old: "revoked", new: "valid"}
    assert main(["hub", "directory", "show", "--province", "52", "--national-key", setup.pub, *db]) == 2
    assert "'52' is not in trust list version 2" in capsys.readouterr().err
    assert main(["hub", "directory", "show", "--province", "50", "--national-key", setup.pub, *db]) == 2
    assert "no station directory of province '50'" in capsys.readouterr().err


def _public_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

"""``tongjian hub`` end to end on a SQLite file: enrol, serve (a real process), list, revoke, audit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.store import HubStore
from tongjian.cli import main


def test_stations_records_revoke_and_audit_verify(tmp_path: Path, station_key, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert (
        main(
            [
                "hub",
                "stations",
                "add",
                "50-0001",
                "--key",
                str(station_key.public_path),
                "--database-url",
                url,
            ]
        )
        == 0
    )
    assert station_key.key_id in capsys.readouterr().out
    assert main(["hub", "records", "--database-url", url]) == 0
    assert "0 of 0" in capsys.readouterr().out
    assert main(["hub", "keys", "revoke", station_key.key_id, "--database-url", url]) == 0
    assert main(["hub", "keys", "revoke", "50-0001/ffff", "--database-url", url]) == 2
    assert "no station key" in capsys.readouterr().err
    assert main(["hub", "audit", "verify", "--database-url", url]) == 0
    assert "audit chain ok: 3 rows" in capsys.readouterr().out
    assert (
        main(
            [
                "hub",
                "stations",
                "add",
                "50-0002",
                "--key",
                str(tmp_path / "missing.pem"),
                "--database-url",
                url,
            ]
        )
        == 2
    )


def test_the_default_database_comes_from_the_environment(
    tmp_path: Path, station_key, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TONGJIAN_HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    assert main(["hub", "stations", "add", "50-0001", "--key", str(station_key.public_path)]) == 0
    assert (tmp_path / "env.sqlite3").exists()


def test_serve_refuses_to_run_without_tls_unless_insecure(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["hub", "serve", "--database-url", "sqlite:///:memory:"]) == 2
    assert "--insecure" in capsys.readouterr().err


def test_serve_checks_its_tls_files_and_names_the_wrong_one(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from pki.authority import Role, init_ca, issue

    ca = init_ca(tmp_path / "ca", "test CA")
    hub = issue(tmp_path / "ca", Role.HUB, "hub-50", tmp_path / "hub")
    station = issue(tmp_path / "ca", Role.STATION, "50-0001", tmp_path / "station")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    serve = ["hub", "serve", "--database-url", "sqlite:///:memory:", "--listen", "127.0.0.1:0"]
    cases = [
        ((hub.cert_path, station.key_path, ca.cert_path), f"{station.key_path}: private key does not belong"),
        ((hub.cert_path, hub.key_path, garbage), f"{garbage}: no PEM certificate"),
        ((hub.cert_path, hub.key_path, hub.cert_path), "holds no CA certificate"),
        ((tmp_path / "missing.pem", hub.key_path, ca.cert_path), "missing.pem: cannot read"),
    ]
    for (cert, key, client_ca), message in cases:
        argv = [*serve, "--tls-cert", str(cert), "--tls-key", str(key), "--client-ca", str(client_ca)]
        assert main(argv) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
async def test_serve_accepts_records_from_a_real_process(
    tmp_path: Path, station_key, signer, make_record, submit
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tongjian", "hub", "serve", "--insecure", "--listen", "127.0.0.1:0", "--database-url", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"port (\d+)", line)
        assert match, (
            f"unexpected first line {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
        store = HubStore(url)
        try:
            store.register_station("50-0001")
            store.add_station_key("50-0001", station_key.public_path.read_bytes())
        finally:
            store.dispose()
        outcome = await submit(int(match.group(1)), [signer.seal(make_record(i)) for i in range(3)])
        assert [a.status for a in outcome.acks] == [1, 1, 1]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0

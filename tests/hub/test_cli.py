"""``tongjian hub`` end to end on a SQLite file: enrol, serve (a real process), list, revoke, audit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from hub.store import HubStore
from tongjian.cli import main


def test_stations_records_revoke_and_audit_verify(tmp_path: Path, station_key, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
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
    assert main(["hub", "records", "--format", "table", "--database-url", url]) == 0
    assert "0 of 0" in capsys.readouterr().out
    assert main(["hub", "keys", "revoke", station_key.key_id, "--database-url", url]) == 0
    assert main(["hub", "keys", "revoke", "50-0001/ffff", "--database-url", url]) == 2
    assert "no station key" in capsys.readouterr().err
    assert main(["hub", "audit", "verify", "--database-url", url]) == 0
    assert "audit log ok: 3 rows" in capsys.readouterr().out
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
    assert main(["hub", "migrate"]) == 0
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
    assert main(["hub", "migrate", "--database-url", url]) == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tongjian", "hub", "serve", "--insecure", "--listen", "127.0.0.1:0", "--database-url", url,
         "--console-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"port (\d+)", line)
        assert match, (
            f"unexpected first line {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
        # The staff console is served by the same process (hub.console).
        console = re.search(r"console on (http://\S+/)", line)
        assert console, line
        with urllib.request.urlopen(console.group(1) + "sign-in", timeout=10) as page:
            assert page.status == 200 and "Sign in" in page.read().decode()
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
    assert process.stderr is not None
    assert "stopped" in process.stderr.read()  # the hub logs that it stopped


def _hub_process(url: str, listen: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "tongjian", "hub", "serve", "--insecure", "--listen", listen, "--database-url", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip


@pytest.mark.slow
async def test_a_second_hub_on_a_busy_port_refuses_and_the_first_keeps_every_record(
    tmp_path: Path, station_key, signer, make_record, submit
) -> None:  # type: ignore[no-untyped-def]
    first_url, second_url = (f"sqlite:///{tmp_path / name}" for name in ("first.sqlite3", "second.sqlite3"))
    for url in (first_url, second_url):
        assert main(["hub", "migrate", "--database-url", url]) == 0
        store = HubStore(url)
        try:
            store.register_station("50-0001")
            store.add_station_key("50-0001", station_key.public_path.read_bytes())
        finally:
            store.dispose()
    first = _hub_process(first_url, "127.0.0.1:0")
    try:
        assert first.stdout is not None
        port = int(re.search(r"port (\d+)", first.stdout.readline()).group(1))  # type: ignore[union-attr]
        second = _hub_process(second_url, f"127.0.0.1:{port}")
        _out, err = second.communicate(timeout=30)
        assert second.returncode == 2
        errors = [line for line in err.splitlines() if "error" in line.lower()]
        assert errors == [
            f"tongjian hub: error: cannot listen on 127.0.0.1:{port}: address already in use or not available"
        ]
        assert "Traceback" not in err
        for batch in range(4):  # new connections each time: none may land anywhere else
            records = [make_record(10 * batch + i) for i in range(5)]
            outcome = await submit(port, [signer.seal(r) for r in records])
            assert [a.status for a in outcome.acks] == [1] * 5
    finally:
        first.terminate()
        assert first.wait(timeout=10) == 0
    for url, expected in ((first_url, 20), (second_url, 0)):
        store = HubStore(url)
        try:
            assert store.count_records() == expected
        finally:
            store.dispose()


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert main(["hub", "serve", "--insecure", "--listen", "127.0.0.1:0", "--database-url", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith("the database has no hub schema: run `tongjian hub migrate` first")


def test_serve_refuses_a_schema_newer_than_it_knows(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    store = HubStore(url)
    try:
        with store.database.engine.begin() as connection:  # a hub of a later version migrated it
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    finally:
        store.dispose()
    assert main(["hub", "serve", "--insecure", "--listen", "127.0.0.1:0", "--database-url", url]) == 2
    assert "revision 0099, newer than this hub knows" in capsys.readouterr().err
    assert main(["hub", "migrate", "--current", "--database-url", url]) == 0
    assert "database revision 0099" in capsys.readouterr().out


COMMANDS = [
    ["hub", "serve", "--insecure", "--listen", "127.0.0.1:0"],
    ["hub", "migrate"],
    ["hub", "migrate", "--current"],
    ["hub", "stations", "add", "50-0001", "--key", "KEY"],
    ["hub", "stations", "list"],
    ["hub", "keys", "list"],
    ["hub", "keys", "revoke", "50-0001/0000"],
    ["hub", "records"],
    ["hub", "audit", "verify"],
    ["report", "00000000-0000-0000-0000-000000000001"],
]
BAD_URLS = [
    "not a url",
    "mysql://u@h/db",
    "postgresql://u:secret@127.0.0.1:1/db",
    "sqlite:////no/such/dir/x.db",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_a_bad_database_url_is_one_line_naming_it(command: list[str], url: str, station_key, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = [str(station_key.public_path) if a == "KEY" else a for a in command]
    assert main([*argv, "--database-url", url]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(lines) == 1, lines
    shown = url.replace("secret", "***")
    assert shown in lines[0] or url in lines[0]
    assert "secret" not in lines[0]


def test_records_piped_print_whole_ids_and_json(tmp_path: Path, station_key, make_record, capsys) -> None:  # type: ignore[no-untyped-def]
    from hub.envelope_check import EnvelopeLimits, verify_envelope
    from hub.records import record_row
    from protos.envelope import load_private_key, seal
    from protos.record_mapping import record_to_bytes

    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    store = HubStore(url)
    try:
        store.register_station("50-0001")
        store.add_station_key("50-0001", station_key.public_path.read_bytes())
        record = make_record(0)
        envelope = seal(
            record_to_bytes(record),
            station_key.key_id,
            load_private_key(station_key.private_path.read_bytes()),
        )
        verified = verify_envelope(envelope, store.known_keys(), EnvelopeLimits(), record.finished_at)
        store.commit_batch([record_row(verified, record.finished_at, None)])
    finally:
        store.dispose()
    capsys.readouterr()
    assert main(["hub", "records", "--database-url", url]) == 0  # stdout is not a terminal here
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[0] == "record_id"
    assert lines[1].split("\t")[:2] == [str(record.record_id), "50-0001"]
    assert main(["hub", "records", "--format", "json", "--database-url", url]) == 0
    (row,) = json.loads(capsys.readouterr().out)["records"]
    assert row["record_id"] == str(record.record_id) and row["verified"] is True
    assert main(["hub", "stations", "list", "--format", "json", "--database-url", url]) == 0
    (station,) = json.loads(capsys.readouterr().out)["stations"]
    assert station["station_id"] == "50-0001" and station["keys"] == 1
    assert main(["hub", "keys", "revoke", station_key.key_id, "--database-url", url]) == 0
    assert main(["hub", "keys", "list", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert f"{station_key.key_id}\t50-0001\trevoked" in out

"""Mistakes a new operator makes get one line naming the problem, never a traceback."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pki.authority import Role, init_ca, issue
from station_agent.record_signer import RecordSigner
from tongjian.cli import EXIT_BROKEN_PIPE, build_parser, main
from tongjian.commands.agent import settings_from_args

ROOT = Path(__file__).resolve().parents[2]


def agent_run(tmp_path: Path, signing_key: Path, *more: str) -> list[str]:
    return [
        "agent", "run", "--station-id", "50-0001", "--signing-key", str(signing_key),
        "--outbox", str(tmp_path / "outbox.sqlite3"), "--hub", "127.0.0.1:1", "--insecure", *more,
    ]  # fmt: skip


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def rsa_key(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def dsa_key(path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography 51 deprecates DSA: an operator may still hold one
        from cryptography.hazmat.primitives.asymmetric import dsa

        key = dsa.generate_private_key(key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("certificate", "is a certificate, not a private key"),
        ("public key", "is a public key"),
        ("rsa", "is an RSA private key; record-signing keys are Ed25519"),
        ("dsa", "is a DSA private key; record-signing keys are Ed25519"),
        ("tls key", "is an EC (a TLS key?) private key"),
        ("text", "is not a PEM private key"),
    ],
)
def test_a_signing_key_of_the_wrong_kind_is_named(
    kind: str, message: str, tmp_path: Path, station_key: object, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind in ("certificate", "tls key"):
        init_ca(tmp_path / "ca", "test CA")
        issued = issue(tmp_path / "ca", Role.STATION, "50-0001", tmp_path / "station")
        path = issued.cert_path if kind == "certificate" else issued.key_path
    elif kind == "public key":
        path = station_key.public_path  # type: ignore[attr-defined]
    elif kind == "rsa":
        path = rsa_key(tmp_path / "rsa.pem")
    elif kind == "dsa":
        path = dsa_key(tmp_path / "dsa.pem")
    else:
        path = tmp_path / "key.txt"
        path.write_text("hello")
    assert main(agent_run(tmp_path, path)) == 2
    line = one_error_line(capsys)
    assert message in line and str(path) in line
    assert main(["keys", "id", "--station-id", "50-0001", str(path)]) == 2
    assert message in one_error_line(capsys)


@pytest.mark.parametrize("hub", ["localhost", "localhost:", "localhost:http", "localhost:70000", ":50051"])
def test_hub_without_a_port_is_refused(
    hub: str, tmp_path: Path, station_key: object, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = agent_run(tmp_path, station_key.private_path)  # type: ignore[attr-defined]
    argv[argv.index("--hub") + 1] = hub
    assert main(argv) == 2
    assert f"--hub {hub}: needs HOST:PORT" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing dir", "does not exist"),
        ("directory", "is a directory"),
        ("text file", "not an outbox database"),
    ],
)
def test_an_outbox_that_cannot_be_one_is_named(
    where: str, message: str, tmp_path: Path, station_key: object, capsys: pytest.CaptureFixture[str]
) -> None:
    path = {
        "missing dir": tmp_path / "no" / "o.sqlite3",
        "directory": tmp_path,
        "text file": tmp_path / "t.txt",
    }[where]
    if where == "text file":
        path.write_text("not a database, " * 200)
        # `agent run` opens the outbox after asking the hub; `agent outbox` opens it at once.
        assert main(["agent", "outbox", "--outbox", str(path)]) == 2
    else:
        argv = agent_run(tmp_path, station_key.private_path)  # type: ignore[attr-defined]
        argv[argv.index("--outbox") + 1] = str(path)
        assert main(argv) == 2
    line = one_error_line(capsys)
    assert message in line and str(path) in line


def test_output_piped_into_head_ends_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tongjian", "sim", "fleet", "--count", "20000"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline()  # what `head -1` reads, then it goes away
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert stderr == ""


def test_private_keys_readable_by_others_get_a_warning(
    tmp_path: Path, station_key: object, caplog: pytest.LogCaptureFixture
) -> None:
    signing_key: Path = station_key.private_path  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING)
    RecordSigner.from_pem_file("50-0001", signing_key)
    assert "readable by other users" not in caplog.text  # `keys new` writes 0600
    signing_key.chmod(0o644)
    RecordSigner.from_pem_file("50-0001", signing_key)
    assert f"signing key {signing_key} is readable by other users (mode 0644)" in caplog.text

    init_ca(tmp_path / "ca", "test CA")
    issued = issue(tmp_path / "ca", Role.STATION, "50-0001", tmp_path / "station")
    issued.key_path.chmod(0o640)
    argv = agent_run(tmp_path, signing_key)
    argv.remove("--insecure")
    argv += ["--ca", str(tmp_path / "ca" / "ca.cert.pem"), "--cert", str(issued.cert_path)]
    argv += ["--key", str(issued.key_path)]
    args = build_parser().parse_args(argv)
    assert isinstance(args, argparse.Namespace)
    settings_from_args(args)
    assert f"--key {issued.key_path} is readable by other users (mode 0640)" in caplog.text


def test_a_hub_address_given_twice_is_refused(
    tmp_path: Path, station_key: object, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = agent_run(tmp_path, station_key.private_path)  # type: ignore[attr-defined]
    argv += ["--hub", argv[argv.index("--hub") + 1]]
    assert main(argv) == 2
    assert "--hub: an address is given twice" in one_error_line(capsys)


def test_repeated_hub_addresses_are_the_uplinks_failover_order(tmp_path: Path, station_key: object) -> None:
    argv = agent_run(tmp_path, station_key.private_path, "--hub", "hub-2.example:50051")  # type: ignore[attr-defined]
    args = build_parser().parse_args(argv)
    assert isinstance(args, argparse.Namespace)
    assert settings_from_args(args).hub_targets == ("127.0.0.1:1", "hub-2.example:50051")


def _hub_serve_federated(tmp_path: Path, *more: str) -> list[str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    hub_key, national = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (tmp_path / "hub.pem").write_bytes(
        hub_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "national.pub.pem").write_bytes(
        national.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return [
        "hub", "serve", "--insecure", "--listen", "127.0.0.1:0",
        "--database-url", f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "--hub-key", str(tmp_path / "hub.pem"), "--national-key", str(tmp_path / "national.pub.pem"), *more,
    ]  # fmt: skip


def test_hub_serve_passes_its_trust_list_refresh_to_the_federation(tmp_path: Path) -> None:
    from tongjian.commands.hub import _federation

    args = build_parser().parse_args(_hub_serve_federated(tmp_path, "--trust-list-refresh", "0.5"))
    assert _federation(args).trust_list_refresh_s == 0.5
    default = build_parser().parse_args(_hub_serve_federated(tmp_path))
    assert _federation(default).trust_list_refresh_s == 5.0


@pytest.mark.parametrize("seconds", ["0", "-1", "7200"])
def test_hub_serve_refuses_a_trust_list_refresh_out_of_range(
    seconds: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_hub_serve_federated(tmp_path, "--trust-list-refresh", seconds)) == 2
    assert f"--trust-list-refresh {float(seconds):g}: must be 0.05..3600 seconds" in one_error_line(capsys)

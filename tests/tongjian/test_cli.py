"""The ``tongjian`` console script: every command group is listed, bad arguments exit 2 with a reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tongjian.cli import _COMMANDS, _SIM_COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command_group() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tongjian", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in (*_COMMANDS, "sim"):
        assert f"    {name} " in result.stdout or f"    {name}\n" in result.stdout, name
    assert _SIM_COMMANDS


def test_the_station_agent_does_not_load_the_hub_or_the_simulators() -> None:
    """The agent runs for months on a station PC: parsing `tongjian agent ...` must not import every
    other command group's libraries (SQLAlchemy, the bench simulators: 13 MB of its idle RSS)."""
    probe = (
        "import sys; from tongjian.cli import main\n"
        "try:\n    main(['agent', 'run', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'simulators', 'hub', 'alembic'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--insecure", "--ca", "ca.pem"], "exclude each other"),
        ([], "needs --ca, --cert and --key"),
        (["--insecure", "--window", "0"], "--window must be at least 1"),
        (["--insecure", "--ack-timeout-s", "0"], "--ack-timeout-s must be positive"),
        (["--insecure"], "--signing-key missing.pem: no such file"),
        (["--insecure", "--lane", "nowhere.toml"], "nowhere.toml"),
    ],
)
def test_agent_run_refuses_bad_arguments_with_a_reason(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], station_key: object
) -> None:
    key = "missing.pem" if "--signing-key missing.pem" in message else str(station_key.private_path)  # type: ignore[attr-defined]
    base = [
        "agent",
        "run",
        "--station-id",
        "50-0001",
        "--signing-key",
        key,
        "--outbox",
        str(tmp_path / "o.db"),
    ]
    assert main([*base, "--hub", "127.0.0.1:1", *argv]) == 2
    assert message in capsys.readouterr().err


def test_agent_run_checks_its_tls_files_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], station_key: object
) -> None:
    from pki.authority import Role, init_ca, issue

    init_ca(tmp_path / "ca", "test CA")
    station = issue(tmp_path / "ca", Role.STATION, "50-0001", tmp_path / "station")
    other = issue(tmp_path / "ca", Role.STATION, "50-0002", tmp_path / "other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    base = [
        "agent", "run", "--station-id", "50-0001", "--outbox", str(tmp_path / "o.db"), "--hub", "127.0.0.1:1",
        "--signing-key", str(station_key.private_path),  # type: ignore[attr-defined]
    ]  # fmt: skip
    ca = str(tmp_path / "ca" / "ca.cert.pem")
    cases = [
        (["--ca", str(garbage), "--cert", str(station.cert_path), "--key", str(station.key_path)], f"{garbage}: no PEM"),
        (["--ca", ca, "--cert", str(station.cert_path), "--key", str(other.key_path)], "does not belong"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main([*base, *argv]) == 2
        assert message in capsys.readouterr().err

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

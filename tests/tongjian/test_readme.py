"""README's "Running the parts by hand" is true today: every command parses with the CLI as it is,
and the lane file it runs ships in the repository and loads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from simulators.fleet import generate_fleet
from station_agent.lane_config import TcpTransport, load_lane_config
from tongjian.cli import build_parser
from tongjian.commands.pda import vehicle_arguments

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LANE = ROOT / "examples" / "lane1.toml"


def by_hand_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running the parts by hand", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ")


def fleet_arguments(match: re.Match[str]) -> str:
    args = build_parser().parse_args(shlex.split(match.group(1))[1:])
    return shlex.join(vehicle_arguments(generate_fleet(args.index + 1, seed=args.seed)[args.index]))


def tongjian_commands() -> list[list[str]]:
    commands = []
    for raw in by_hand_block().splitlines():
        line = re.sub(r"\s#.*$", "", raw).strip()
        line = re.sub(r"\$\((tongjian sim fleet [^)]*)\)", fleet_arguments, line)
        inner = re.search(r"\$\((tongjian [^)]*)\)", line)  # export VAR=$(tongjian ...)
        if inner:
            line = inner.group(1)
        line = re.sub(r"(\s*(&|>\s*\S+))+$", "", line)  # background and redirection
        if line.startswith("tongjian "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_the_by_hand_section_runs_the_sample_lane_file_that_ships() -> None:
    block = by_hand_block()
    assert "examples/lane1.toml > lane1.toml" in block
    assert "--lane lane1.toml" in block
    lane = load_lane_config(SAMPLE_LANE)
    assert lane.station_id == "50-0001" and lane.lane == 1
    # The README's simulators and PDA commands meet the lane where the file says.
    assert isinstance(lane.rbt.transport, TcpTransport)
    assert f"tongjian sim rbt --port {lane.rbt.transport.port} --profile {lane.rbt.profile}" in block
    assert lane.pda is not None and f"--server {lane.pda.listen}" in block
    # The sed line replaces exactly the serial ports the file holds.
    for bench in (lane.hlt, lane.ega, lane.opm):
        assert f"s|{bench.serial_port}|" in block


@pytest.mark.parametrize("argv", tongjian_commands(), ids=lambda argv: " ".join(argv[:2]))
def test_every_by_hand_command_parses_with_todays_cli(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert callable(args.handler)


def test_the_by_hand_section_has_its_commands() -> None:
    names = {" ".join(argv[:2]) for argv in tongjian_commands()}
    assert {"agent run", "agent outbox", "sim rbt", "pda check-in", "hub serve"} <= names

"""``tongjian sim fleet`` prints vehicles as ``pda check-in`` arguments that parse back to the same vehicle."""

from __future__ import annotations

import argparse
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection.vehicle_register_csv import RegisterRow, read_register
from simulators.fleet import generate_fleet, owner_reference
from tongjian.cli import main
from tongjian.commands import pda as pda_command


def parse_vehicle(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pda_command.add_vehicle_arguments(parser)
    return parser.parse_args(arguments)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_vehicle_arguments_parse_back_to_the_same_vehicle(seed: int) -> None:
    (vehicle,) = generate_fleet(1, seed=seed)
    arguments = pda_command.vehicle_arguments(vehicle)
    assert not any(part == "" or any(c.isspace() for c in part) for part in arguments)  # safe in $(...)
    assert pda_command.vehicle_from_arguments(parse_vehicle(arguments)) == vehicle


def test_sim_fleet_prints_one_line_per_vehicle_and_index_picks_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sim", "fleet", "--count", "4", "--seed", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    fleet = generate_fleet(4, seed=7)
    assert [pda_command.vehicle_from_arguments(parse_vehicle(line.split())) for line in lines] == fleet
    assert main(["sim", "fleet", "--seed", "7", "--index", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [lines[2]]


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--count", "0"], "--count 0: must be in 1..100000"), (["--index", "-1"], "--index -1: must be in")],
)
def test_sim_fleet_refuses_bad_counts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "fleet", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--seats", "-1", "outside 0..4294967295"),
        ("--registered", "2020-13-01", "is not a date (YYYY-MM-DD)"),
        ("--parking-axles", "2,x", "'x' is not a whole number"),
        ("--fuel", "coal", "invalid choice: 'coal'"),
    ],
)
def test_check_in_flags_are_refused_with_the_flag_named(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = pda_command.vehicle_arguments(generate_fleet(1, seed=3)[0])
    position = arguments.index(flag) if flag in arguments else None
    if position is None:
        arguments += [flag, value]
    else:
        arguments[position + 1] = value
    with pytest.raises(SystemExit) as exited:
        parse_vehicle(arguments)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and message in err


def test_sim_fleet_writes_a_register_csv_of_one_province(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "fleet", "--count", "6", "--seed", "4", "--province", "51", "--csv", "-"]) == 0
    rows = list(read_register(io.StringIO(capsys.readouterr().out, newline="")))
    fleet = generate_fleet(6, seed=4, province="51")
    assert [(r.vehicle, r.owner_ref) for r in rows if isinstance(r, RegisterRow)] == [
        (vehicle, owner_reference(4, index)) for index, vehicle in enumerate(fleet)
    ]
    assert main(["sim", "fleet", "--seed", "4", "--province", "51", "--index", "5", "--csv", "-"]) == 0
    (only,) = read_register(io.StringIO(capsys.readouterr().out, newline=""))
    assert isinstance(only, RegisterRow) and (only.vehicle, only.owner_ref) == (
        fleet[5],
        owner_reference(4, 5),
    )


def test_sim_fleet_refuses_an_unknown_province(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "fleet", "--province", "5", "--csv", "-"]) == 2
    assert "--province '5': not a GB/T 2260 province code" in capsys.readouterr().err

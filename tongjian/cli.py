"""``tongjian`` console script: parse arguments, dispatch to a command module, map errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Top-level command groups, each a module in tongjian.commands with register(subparsers).
_COMMANDS = ("keys", "agent", "demo", "pda", "hub", "label", "pki", "report", "national", "archive", "review")
# Simulator groups below `tongjian sim`, same protocol.
_SIM_COMMANDS: tuple[str, ...] = ("sim_rbt", "sim_dyn", "sim_serial", "sim_fleet")


class CommandError(Exception):
    """A command could not do what was asked; the message says what and where. Exit status 2."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) one command group's: each group's module imports what its
    commands need (the hub's SQLAlchemy, the simulators), and a long-running station agent should
    not carry the others' libraries in its memory (issue 19: the agent's footprint)."""
    parser = argparse.ArgumentParser(
        prog="tongjian",
        description="Tongjian (通检): vehicle inspection stations on a cross-province network.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        if only in (None, name):
            importlib.import_module(f"tongjian.commands.{name}").register(commands)
    if _SIM_COMMANDS and only in (None, "sim"):
        sim = commands.add_parser(
            "sim", help="run a bench simulator (Modbus server or serial device on a pty); generate vehicles"
        )
        devices = sim.add_subparsers(dest="device", required=True, metavar="DEVICE")
        for name in _SIM_COMMANDS:
            importlib.import_module(f"tongjian.commands.{name}").register(devices)
    return parser


# Exit status of a command whose reader went away (128 + SIGPIPE, what a shell reports for `yes | head`).
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    named = arguments[0] if arguments and arguments[0] in (*_COMMANDS, "sim") else None
    args = build_parser(only=named).parse_args(arguments)
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, so that a reader gone by now is caught below, not at interpreter exit
        return status
    except CommandError as error:
        print(f"tongjian {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tongjian ... | head`: the reader has all it wanted. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again and print a traceback on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())

"""``tongjian sim rbt``: run the roller brake tester simulator (Modbus TCP, or RTU on a pty).

Prints ``host:port`` (TCP) or the pty path (``--rtu``) and serves until Ctrl-C or ``--serve-for``.
Vehicles come from the fleet generator (``--seed``), one after the other: each drives on when the
previous one's last axle has been RESET.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import date

from simulators.brake_scenario import scenario_for_vehicle
from simulators.fleet import generate_fleet
from simulators.rbt_bench import BenchFault, parse_fault
from tongjian.cli import CommandError
from tongjian.commands.stop_signal import StopSignals

# Vehicles queued on the bench; the simulator goes quiet (no axle) after the last one.
QUEUED_VEHICLES = 500


def _fault(text: str) -> BenchFault:
    try:
        return parse_fault(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def register(devices: argparse._SubParsersAction) -> None:
    parser = devices.add_parser("rbt", help="roller brake tester (Modbus TCP, or RTU on a pty)")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5020, help="TCP port (default 5020; 0: the OS picks)")
    parser.add_argument(
        "--profile",
        default="default",
        help='device profile: "default", "rbt-f" or a TOML path (default: default)',
    )
    parser.add_argument(
        "--rtu", action="store_true", help="serve Modbus RTU on a pseudo-terminal instead of TCP"
    )
    parser.add_argument("--seed", type=int, default=0, help="fleet and scenario seed (default 0)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="real seconds per simulated second (0.01 runs a 2 s weighing in 20 ms; default 1)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND[:CODE][@WHAT][/COUNT]",
        help="inject a fault: exception:CODE, fault:CODE, silence, disconnect; WHAT is a command "
        "(reset, weigh, service, parking, abort), read, status or curve; e.g. --fault exception:6@service/2",
    )
    parser.add_argument(
        "--link",
        metavar="PATH",
        help="with --rtu: also serve at PATH, a symlink to the pty (a stable port name)",
    )
    parser.add_argument(
        "--serve-for", type=float, default=None, metavar="SECONDS", help="stop after this long"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    if args.time_scale <= 0:
        raise CommandError("--time-scale must be positive")
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port} is not a TCP port")
    if args.link and not args.rtu:
        raise CommandError("--link names a serial port: it needs --rtu")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_until_stopped(args))
    return 0


async def _run_until_stopped(args: argparse.Namespace) -> None:
    with StopSignals() as stop:  # before the ready line: see StopSignals
        await _run(args, stop)


async def _run(args: argparse.Namespace, stop: StopSignals) -> None:
    from equipment.errors import ProfileError
    from simulators.rbt_server import RbtSimulator

    fleet = generate_fleet(QUEUED_VEHICLES, seed=args.seed, as_of=date(2026, 11, 25))
    scenarios = [scenario_for_vehicle(vehicle, args.seed) for vehicle in fleet]
    try:
        simulator = RbtSimulator(
            scenarios, profile=args.profile, faults=args.fault, time_scale=args.time_scale
        )
    except ProfileError as error:
        raise CommandError(str(error)) from error
    try:
        if args.rtu:
            where = await simulator.start_rtu(link_path=args.link)
        else:
            where = f"{args.host}:{await simulator.start_tcp(args.host, args.port)}"
    except (OSError, RuntimeError) as error:
        await simulator.stop()
        raise CommandError(f"cannot start the Modbus server: {error}") from error
    try:
        print(where, flush=True)
        await stop.wait(args.serve_for)
    finally:
        await simulator.stop()

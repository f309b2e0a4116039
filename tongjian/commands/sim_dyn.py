"""``tongjian sim dyn``: run the chassis dynamometer simulator (Modbus TCP, spec 5) with a vehicle on it.

Prints ``host:port`` and serves until Ctrl-C or ``--serve-for``. The vehicle on the rollers is a
petrol car or a diesel truck (``--vehicle``, ``--rated-power-kw``, ``--rated-rpm``); its driver follows
the driver's-aid registers. ``--with-analysers`` also serves a gas analyser and an opacity meter on
pseudo-terminals (their paths printed on the next lines, ``ega PATH`` and ``opm PATH``) that read the
same vehicle, so a lane file can point all three benches at one simulated vehicle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from simulators.dyn_sim import DynFault, parse_dyn_fault
from tongjian.cli import CommandError
from tongjian.commands.stop_signal import StopSignals


def _fault(text: str) -> DynFault:
    try:
        return parse_dyn_fault(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def register(devices: argparse._SubParsersAction) -> None:
    parser = devices.add_parser("dyn", help="chassis dynamometer with a vehicle on its rollers (Modbus TCP)")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5025, help="TCP port (default 5025; 0: the OS picks)")
    parser.add_argument(
        "--profile", default="dyn-default", help='device profile: "dyn-default" or a TOML path'
    )
    parser.add_argument(
        "--vehicle", choices=("petrol", "diesel"), default="petrol", help="what is on the rollers"
    )
    parser.add_argument(
        "--rated-power-kw", type=float, default=None, help="engine rated power (default 80 / 110)"
    )
    parser.add_argument(
        "--rated-rpm", type=float, default=None, help="engine rated speed (default 5500 / 3200)"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="real seconds per simulated second (default 1)"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND[@SECONDS]",
        help="inject a fault SECONDS into a load mode: overheat, speed_sensor, lift_busy, silence; "
        "e.g. --fault overheat@12",
    )
    parser.add_argument(
        "--with-analysers", action="store_true", help="also serve a gas analyser and an opacity meter on ptys"
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
    for option, value in (("--rated-power-kw", args.rated_power_kw), ("--rated-rpm", args.rated_rpm)):
        if value is not None and not 0 < value < 100_000:
            raise CommandError(f"{option} {value:g} is not a positive engine figure")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_until_stopped(args))
    return 0


async def _run_until_stopped(args: argparse.Namespace) -> None:
    with StopSignals() as stop:  # before the ready line: see StopSignals
        await _run(args, stop)


async def _run(args: argparse.Namespace, stop: StopSignals) -> None:
    from equipment.errors import ProfileError
    from simulators.dyn_sim import DynSimulator
    from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
    from simulators.opm_sim import OpacityMeterSimulator
    from simulators.vehicle_on_rollers import RollerModel, VehicleModel

    changes = {
        name: value
        for name, value in (("rated_power_kw", args.rated_power_kw), ("rated_rpm", args.rated_rpm))
        if value is not None
    }
    vehicle = (
        VehicleModel.diesel_truck(**changes)
        if args.vehicle == "diesel"
        else VehicleModel.petrol_car(**changes)
    )
    model = RollerModel(vehicle=vehicle, time_scale=args.time_scale)
    try:
        simulator = DynSimulator(model, profile=args.profile, faults=args.fault, time_scale=args.time_scale)
    except ProfileError as error:
        raise CommandError(str(error)) from error
    try:
        port = await simulator.start_tcp(args.host, args.port)
    except (OSError, RuntimeError) as error:
        await simulator.stop()
        raise CommandError(f"cannot start the Modbus server: {error}") from error
    analysers: list[GasAnalyserSimulator | OpacityMeterSimulator] = []
    try:
        print(f"{args.host}:{port}", flush=True)
        if args.with_analysers:
            ega = GasAnalyserSimulator(EgaScenario.two_speed_idle(), time_scale=args.time_scale, engine=model)
            opm = OpacityMeterSimulator(time_scale=args.time_scale, engine=model)
            analysers = [ega, opm]
            print(f"ega {ega.start()}\nopm {opm.start()}", flush=True)
        await stop.wait(args.serve_for)
    finally:
        for analyser in analysers:
            analyser.stop()
        await simulator.stop()

"""``tongjian sim hlt|ega|opm|obd``: run a serial bench simulator on a pseudo-terminal.

Prints the pty path for the driver (or a terminal program) and serves until Ctrl-C. With
``--link PATH`` it also makes PATH a symlink to the pty (as udev names a USB adapter) and prints
that: stopping the simulator removes it, as unplugging the adapter would, and starting it again
with the same ``--link`` plugs it back in at the same path (the lane reconnects by itself).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable

from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.hlt_sim import HeadlightTesterSimulator
from simulators.obd_sim import ObdScenario, ObdSimulator
from simulators.opm_sim import OpacityMeterSimulator
from simulators.serial_device import Fault, SerialDeviceSimulator, parse_fault
from tongjian.cli import CommandError
from tongjian.commands.stop_signal import StopSignals

_SIMULATORS: dict[str, tuple[str, Callable[..., SerialDeviceSimulator]]] = {
    "hlt": ("headlight tester (ASCII frames)", HeadlightTesterSimulator),
    "ega": ("exhaust gas analyser (binary frames, two-speed idle script)", GasAnalyserSimulator),
    "opm": ("smoke opacity meter (binary frames, free acceleration script)", OpacityMeterSimulator),
    "obd": ("OBD scan tool (ELM327 adapter and a vehicle's engine ECU)", ObdSimulator),
}
# ``tongjian sim obd --scenario``: the vehicles the OBD rules judge.
OBD_SCENARIOS = {
    "mil-off": ObdScenario.mil_off,
    "mil-on-dtcs": ObdScenario.mil_on_with_emission_dtcs,
    "readiness-incomplete": ObdScenario.readiness_incomplete,
    "vin-mismatch": ObdScenario.vin_mismatch,
    "no-communication": lambda vin: ObdScenario.no_communication(),
}


def _fault(text: str) -> Fault:
    try:
        return parse_fault(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def register(devices: argparse._SubParsersAction) -> None:
    for name, (description, _factory) in _SIMULATORS.items():
        parser = devices.add_parser(name, help=f"{description} on a pty")
        parser.add_argument("--seed", type=int, default=0, help="scenario and noise seed (default 0)")
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="real seconds per simulated second (0.01 runs a 10 s zeroing in 0.1 s; default 1)",
        )
        parser.add_argument(
            "--fault",
            type=_fault,
            action="append",
            default=[],
            metavar="KIND[:CODE][@COMMAND][/COUNT]",
            help="inject a fault: garbage, bad-checksum, partial, silence, reject:CODE (nak/err), "
            "fault, close; e.g. --fault nak:4@read/2 (repeatable)",
        )
        parser.add_argument(
            "--serve-for", type=float, default=None, metavar="SECONDS", help="stop after this long"
        )
        parser.add_argument(
            "--link", metavar="PATH", help="also serve at PATH, a symlink to the pty (a stable port name)"
        )
        if name == "ega":
            # A real analyser reads whatever the engine runs at; the simulated driver cannot see the
            # lane's prompt, so it is told the engine's rated speed (the host asks for 70% of it).
            parser.add_argument(
                "--rated-rpm",
                type=float,
                default=5500.0,
                help="rated speed of the engine under test, as checked in (default 5500)",
            )
        if name == "obd":
            parser.add_argument(
                "--scenario",
                choices=sorted(OBD_SCENARIOS),
                default="mil-off",
                help="the vehicle (default mil-off)",
            )
            parser.add_argument(
                "--vin",
                default="LSVAU2180N2183251",
                help="the VIN of the vehicle checked in (default %(default)s)",
            )
        parser.set_defaults(handler=_serve, simulator=name)


def build_simulator(args: argparse.Namespace) -> SerialDeviceSimulator:
    """The simulator the arguments describe, not yet started."""
    if args.time_scale <= 0:
        raise CommandError("--time-scale must be positive")
    _description, factory = _SIMULATORS[args.simulator]
    options = {}
    if args.simulator == "ega":
        if not 1000 <= args.rated_rpm <= 10000:
            raise CommandError(f"--rated-rpm {args.rated_rpm:g}: expected 1000..10000")
        options["scenario"] = EgaScenario.two_speed_idle(rated_rpm=args.rated_rpm)
    if args.simulator == "obd":
        try:
            options["scenario"] = OBD_SCENARIOS[args.scenario](args.vin)
        except ValueError as error:
            raise CommandError(f"--vin {args.vin}: {error}") from error
    return factory(seed=args.seed, time_scale=args.time_scale, faults=args.fault, **options)


def _serve(args: argparse.Namespace) -> int:
    simulator = build_simulator(args)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the handlers: stop all the same
        asyncio.run(_serve_until_stopped(args, simulator))
    return 0


async def _serve_until_stopped(args: argparse.Namespace, simulator: SerialDeviceSimulator) -> None:
    with StopSignals() as stop:  # before the ready line: see StopSignals
        try:
            path = simulator.start(link_path=args.link)
        except OSError as error:
            where = f" at --link {args.link}" if args.link else ""
            raise CommandError(f"cannot open a pseudo-terminal{where}: {error}") from error
        try:
            print(path, flush=True)
            # The simulator serves from its own thread; this one only waits for the stop.
            await stop.wait(args.serve_for)
        finally:
            simulator.stop()

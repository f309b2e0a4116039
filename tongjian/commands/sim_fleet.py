"""``tongjian sim fleet``: generated vehicles, printed as ``tongjian pda check-in`` arguments.

    tongjian sim fleet --count 3 --seed 7
    tongjian pda check-in --server HOST:PORT --lane 1 $(tongjian sim fleet --seed 7 --index 2)

The same seed always gives the same fleet (valid VIN check digits, real province prefixes).
"""

from __future__ import annotations

import argparse

from inspection.vehicle_fields import vehicle_to_arguments
from simulators.fleet import generate_fleet
from tongjian.cli import CommandError

MAX_COUNT = 100_000


def register(devices: argparse._SubParsersAction) -> None:
    parser = devices.add_parser("fleet", help="generated vehicles as `pda check-in` arguments")
    parser.add_argument("--count", type=int, default=5, help=f"vehicles to print (1..{MAX_COUNT}, default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=int, help="print only this vehicle of the fleet (0-based)")
    parser.set_defaults(handler=_fleet)


def _fleet(args: argparse.Namespace) -> int:
    if args.index is not None:
        if not 0 <= args.index < MAX_COUNT:
            raise CommandError(f"--index {args.index}: must be in 0..{MAX_COUNT - 1}")
        count = args.index + 1
    elif not 1 <= args.count <= MAX_COUNT:
        raise CommandError(f"--count {args.count}: must be in 1..{MAX_COUNT}")
    else:
        count = args.count
    fleet = generate_fleet(count, seed=args.seed)
    for vehicle in fleet if args.index is None else fleet[args.index :]:
        # Plain spaces, no shell quoting: no value has whitespace, and `$(...)` would keep quotes.
        print(" ".join(vehicle_to_arguments(vehicle)))
    return 0

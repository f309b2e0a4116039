"""``tongjian sim fleet``: generated vehicles, printed as ``tongjian pda check-in`` arguments or
written as a vehicle register CSV (``inspection.vehicle_register_csv``) for ``tongjian hub vehicles import``.

    tongjian sim fleet --count 3 --seed 7
    tongjian pda check-in --server HOST:PORT --lane 1 $(tongjian sim fleet --seed 7 --index 2)
    tongjian sim fleet --count 20000 --province 50 --csv register-50.csv

The same seed always gives the same fleet (valid VIN check digits, real province prefixes), and
the same pseudonymous owner reference, engine number and body colour per vehicle
(``simulators.fleet.owner_reference``, ``register_identity``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inspection.identifiers import PROVINCES
from inspection.vehicle_fields import vehicle_to_arguments
from inspection.vehicle_register_csv import RegisterRow, write_register
from simulators.fleet import generate_fleet, owner_reference, register_identity
from tongjian.cli import CommandError

MAX_COUNT = 100_000


def register(devices: argparse._SubParsersAction) -> None:
    parser = devices.add_parser("fleet", help="generated vehicles as `pda check-in` arguments")
    parser.add_argument("--count", type=int, default=5, help=f"vehicles to print (1..{MAX_COUNT}, default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=int, help="print only this vehicle of the fleet (0-based)")
    parser.add_argument(
        "--province", help="register the whole fleet in this province (GB/T 2260 code: 50, 51, ...)"
    )
    parser.add_argument("--csv", metavar="FILE", help="write a vehicle register CSV to FILE (- = stdout)")
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
    if args.province is not None and args.province not in set(PROVINCES.values()):
        raise CommandError(f"--province {args.province!r}: not a GB/T 2260 province code (e.g. 50, 51)")
    fleet = generate_fleet(count, seed=args.seed, province=args.province)
    first = 0 if args.index is None else args.index
    if args.csv is not None:
        rows = [
            RegisterRow(
                i + 2 - first,
                fleet[i],
                owner_reference(args.seed, i),
                *register_identity(args.seed, i, fleet[i]),
            )
            for i in range(first, count)
        ]
        _write_csv(args.csv, rows)
        return 0
    for vehicle in fleet if args.index is None else fleet[args.index :]:
        # Plain spaces, no shell quoting: no value has whitespace, and `$(...)` would keep quotes.
        print(" ".join(vehicle_to_arguments(vehicle)))
    return 0


def _write_csv(target: str, rows: list[RegisterRow]) -> None:
    if target == "-":
        write_register(sys.stdout, rows)
        return
    try:
        with Path(target).open("w", encoding="utf-8", newline="") as stream:
            write_register(stream, rows)
    except OSError as error:
        raise CommandError(f"--csv {target}: {error.strerror or error}") from error
    print(f"{len(rows)} vehicles written to {target}", file=sys.stderr)

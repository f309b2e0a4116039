"""``tongjian demo``: hub, station, two simulated lanes and a PDA, end to end; see ``tongjian.demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from tongjian.cli import CommandError
from tongjian.console import table_console

if TYPE_CHECKING:
    from inspection import InspectionRecord


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="run hub + station + simulated lanes end to end and check what the hub stored"
    )
    demo.add_argument("--vehicles", type=int, default=6, help="vehicles to inspect (default 6)")
    demo.add_argument("--seed", type=int, default=7, help="fleet and scenario seed (default 7)")
    demo.add_argument(
        "--workdir", type=Path, help="keep everything here (default: a temp dir, removed after)"
    )
    demo.add_argument("--verbose", action="store_true", help="log every lane transition and uplink event")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from tongjian.demo import default_workdir, run_demo

    if not 1 <= args.vehicles <= 200:
        raise CommandError(f"--vehicles must be between 1 and 200, not {args.vehicles}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    console = table_console()
    keep = args.workdir is not None
    workdir = args.workdir or default_workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with console.status("starting hub, simulators and station...") as status:

            def progress(text: str) -> None:
                console.log(text)
                status.update(text)

            result = asyncio.run(run_demo(workdir, vehicles=args.vehicles, seed=args.seed, progress=progress))
        table = Table(title=f"What the province hub stored ({len(result.checks)} records)")
        for column in (
            "lane",
            "plate",
            "VIN",
            "class",
            "fuel",
            "emission test",
            "stored",
            "bytes = signed",
            "signature",
            "station",
            "hub",
        ):
            table.add_column(column)
        for check in result.checks:
            vehicle = check.inspected.vehicle
            table.add_row(
                str(check.inspected.lane),
                vehicle.plate,
                vehicle.vin,
                str(vehicle.vehicle_class),
                str(vehicle.fuel),
                _emission_test(check.inspected.record),
                _mark(check.stored),
                _mark(check.bytes_identical),
                _mark(check.signature_valid),
                check.station_overall,
                check.hub_overall + (" [red](differs)[/red]" if check.mismatch else ""),
            )
        console.print(table)
        for item in result.aborted:
            console.print(f"[red]lane {item.lane}: {item.vehicle.plate} aborted: {item.error}[/red]")
        if result.report_png is not None:
            shown = result.report_png if keep else None
            console.print(
                f"inspection report of the first record: {shown or '(rerun with --workdir to keep it)'}"
            )
        verdict = "[green]all records arrived verified[/green]" if result.ok else "[red]FAILED[/red]"
        console.print(f"{verdict} in {result.elapsed_s:.1f} s")
        return 0 if result.ok else 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _emission_test(record: InspectionRecord | None) -> str:
    from inspection.verdicts.emission_rules import PROCEDURE_NAME, procedure_of

    if record is None or record.emission is None:
        return "-"
    return PROCEDURE_NAME[procedure_of(record.emission)]


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]NO[/red]"

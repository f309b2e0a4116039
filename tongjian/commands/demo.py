"""``tongjian demo``: hub, station, two simulated lanes and a PDA, end to end; see ``tongjian.demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from tongjian.cli import CommandError
from tongjian.commands.stop_signal import until_stopped
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
    demo.add_argument(
        "--stay",
        action="store_true",
        help="after the vehicles are delivered, keep the hubs' staff console and the PDA page serving "
        "until Ctrl-C",
    )
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

            result = asyncio.run(
                run_demo(
                    workdir,
                    vehicles=args.vehicles,
                    seed=args.seed,
                    progress=progress,
                    stay=until_stopped if args.stay else None,
                )
            )
        table = Table(title=f"What the Sichuan (川) hub stored ({len(result.checks)} records)")
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
        if result.journeys:
            _print_journeys(console, result.journeys)
        if result.labels is not None:
            _print_labels(console, result.labels, keep)
        if result.transfer is not None:
            _print_transfer(console, result.transfer)
        for item in result.aborted:
            console.print(f"[red]lane {item.lane}: {item.vehicle.plate} aborted: {item.error}[/red]")
        if result.report_png is not None:
            shown = result.report_png if keep else None
            console.print(
                f"inspection report of the first record: {shown or '(rerun with --workdir to keep it)'}"
            )
        _print_console(console, result)
        verdict = "[green]all records arrived verified[/green]" if result.ok else "[red]FAILED[/red]"
        console.print(f"{verdict} in {result.elapsed_s:.1f} s")
        return 0 if result.ok else 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _print_console(console: Any, result: Any) -> None:
    if result.console_url is None:
        return
    console.print(f"Staff console of the 川 hub: {result.console_url}")
    for role, (person, password) in result.sign_ins.items():
        console.print(f"  {role:<16} {person:<10} {password}")
    if result.pda_page_url is not None:
        console.print(f"PDA page of station 51-0001: {result.pda_page_url}")
    console.print("  (served while the demo ran; `./dev demo --stay` keeps them serving until Ctrl-C)")


def _print_journeys(console: Any, journeys: list[Any]) -> None:
    table = Table(
        title=f"Cross-province: {len(journeys)} Chongqing (渝) cars inspected at Sichuan station 51-0001"
    )
    for column in ("plate", "VIN", "川 hub stored", "渝 hub stored", "渝's Ack at 川", "signatures at 渝"):
        table.add_column(column)
    for journey in journeys:
        vehicle = journey.inspected.vehicle
        table.add_row(
            vehicle.plate,
            vehicle.vin,
            _clock(journey.stored_at),
            _clock(journey.arrived_at),
            _clock(journey.delivered_at),
            "[green]verify[/green]" if journey.problem is None else f"[red]{journey.problem}[/red]",
        )
    console.print(table)
    first = journeys[0]
    if first.arrived_at is None or first.stored_at is None:
        return
    vehicle = first.inspected.vehicle
    record = first.inspected.record
    signed = record.finished_at if record is not None else None
    console.print(
        f"journey of {vehicle.plate} (registered in Chongqing), record {first.inspected.record_id}:"
    )
    console.print(
        f"  {_clock(signed)}  station 51-0001 (Sichuan) signs the record, lane {first.inspected.lane}"
    )
    console.print(
        f"  {_clock(first.stored_at)}  川 hub verifies, judges and stores it; queues it for 渝 in the same transaction"
    )
    console.print(
        f"  {_clock(first.arrived_at)}  渝 hub stored it: countersignature checked against the national trust "
        f"list, station signature against 川's directory #{first.directory_sequence}"
    )
    console.print(
        f"  {_clock(first.delivered_at)}  川 hub's forwarder has the 渝 hub's Ack: delivered (sent countersigned, over mTLS)"
    )
    hops = (first.arrived_at - first.stored_at).total_seconds() * 1000
    console.print(f"  川 hub to 渝 hub: {hops:.0f} ms")


def _clock(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone().strftime("%H:%M:%S.%f")[:-3]


def _emission_test(record: InspectionRecord | None) -> str:
    from inspection.verdicts.emission_rules import PROCEDURE_NAME, procedure_of

    if record is None:
        return "-"
    tests = [] if record.emission is None else [PROCEDURE_NAME[procedure_of(record.emission)]]
    if record.obd is not None:
        tests.append("OBD")
    return " + ".join(tests) or "-"


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]NO[/red]"


def _print_labels(console: Any, labels: Any, keep: bool) -> None:
    console.print(
        f"e-labels: the 川 hub issued {labels.inspection_labels} inspection labels for "
        f"{labels.passed_records} passed records"
    )
    reply = labels.exemption
    if reply is None or not reply.granted:
        console.print(f"[red]exemption application: {'; '.join(labels.notes) or 'no answer'}[/red]")
        return
    console.print(
        f"  免检 applied at the 川 hub for a 渝 car: granted ({reply.regime}), label {reply.serial} signed by "
        f"hub {reply.issuer_province}, valid {reply.valid_from} .. {reply.valid_until}; "
        f"recorded at the 渝 hub: {_mark(labels.recorded_at_registration)}"
    )
    font = "CJK font" if labels.cjk_font else "no CJK font here: English captions"
    shown = labels.png if keep else "(rerun with --workdir to keep it)"
    console.print(
        f"  rendered: {shown} ({font}); QR read back with zxing-cpp: {_mark(labels.png_round_trip)}"
    )
    for name, check in (("verified offline", labels.check), ("after revocation", labels.after_revocation)):
        if check is None:
            continue
        verdict = (
            "VALID" if check.valid else "; ".join(f"{p.fault.value}: {p.detail}" for p in check.problems)
        )
        console.print(f"  {name}: {verdict}")


def _print_transfer(console: Any, transfer: Any) -> None:
    console.print(
        f"archive transfer (异地转籍) of {transfer.old_plate} ({transfer.vin}), Chongqing -> Sichuan, "
        f"transfer {transfer.transfer_id or '-'}:"
    )
    for moment, text in transfer.steps:
        console.print(f"  {_clock(moment)}  {text}")
    if transfer.problem is not None:
        console.print(f"  [red]{transfer.problem}[/red]")
    elif transfer.steps:
        seconds = (transfer.steps[-1][0] - transfer.steps[0][0]).total_seconds()
        console.print(f"  {transfer.old_plate} -> {transfer.new_plate} in {seconds:.1f} s")

"""``tongjian agent``: run the station agent, and look into its outbox.

    tongjian agent run --station-id 50-0001 --signing-key station.pem --outbox outbox.sqlite3 \\
        --hub hub.example:50051 [--hub hub-2.example:50051 ...] --ca ca.pem --cert station.crt --key station.key \\
        [--lane lane1.toml ...] [--metrics-listen 127.0.0.1:9101]
    tongjian agent outbox --outbox outbox.sqlite3                   pending records, dead letters and why
    tongjian agent outbox requeue ID|--all --outbox outbox.sqlite3  send dead letters again (not re-signed)

``run`` serves until SIGINT or SIGTERM, then stops the lanes, the PDA service and the uplink in
that order; records not yet acknowledged stay in the outbox and go out on the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from pki.grpc_credentials import PkiError, server_tls_credentials
from station_agent.errors import StationAgentError
from station_agent.lane_config import LaneConfigError, load_lane_config
from station_agent.outbox import OutboxError, OutboxStore, RecordIdConflict, check_outbox_path
from station_agent.record_signer import SigningKeyError, read_signing_key, warn_if_readable_by_others
from station_agent.station import Station, StationSettings, StationTls
from tongjian.cli import CommandError
from tongjian.commands.stop_signal import StopSignals

log = logging.getLogger("tongjian.agent")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = commands.add_parser("agent", help="the station agent: lanes, PDA service, outbox, uplink")
    actions = agent.add_subparsers(dest="action", required=True)

    run = actions.add_parser("run", help="run the station agent until SIGINT / SIGTERM")
    run.add_argument("--station-id", required=True)
    run.add_argument(
        "--signing-key", type=Path, required=True, help="the station's Ed25519 private key (PEM)"
    )
    run.add_argument("--outbox", type=Path, required=True, help="outbox database file (created if missing)")
    run.add_argument("--outbox-max-depth", type=int, default=100_000)
    run.add_argument(
        "--hub",
        required=True,
        action="append",
        metavar="HOST:PORT",
        help="the province hub's ingest address; repeat for its replicas, tried in this order when one is down",
    )
    run.add_argument("--ca", type=Path, help="CA certificate that signed the hub's certificate (PEM)")
    run.add_argument("--cert", type=Path, help="this station's client certificate (PEM)")
    run.add_argument("--key", type=Path, help="this station's client certificate key (PEM)")
    run.add_argument("--insecure", action="store_true", help="plaintext to the hub (test benches only)")
    run.add_argument("--lane", type=Path, action="append", default=[], help="a lane configuration TOML")
    run.add_argument("--window", type=int, default=64, help="records in flight before waiting for Acks")
    run.add_argument(
        "--reconnect-max-s", type=float, default=30.0, help="ceiling of the reconnect backoff (default 30)"
    )
    run.add_argument(
        "--ack-timeout-s",
        type=float,
        default=60.0,
        help="reopen the stream when the oldest record has waited this long for its Ack (default 60)",
    )
    run.add_argument("--metrics-listen", metavar="HOST:PORT", help="serve Prometheus /metrics here")
    run.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    run.set_defaults(handler=_run)

    outbox = actions.add_parser(
        "outbox",
        help="list records waiting for the hub and dead letters with the hub's reasons; requeue dead letters",
    )
    outbox.description = (
        "Without an action: the records waiting for the hub, and the dead letters with the hub's reasons. "
        "`requeue ID|--all` sends dead letters again."
    )
    outbox.add_argument("--outbox", type=Path, help="the agent's outbox database file")
    outbox.set_defaults(handler=_outbox)
    outbox_actions = outbox.add_subparsers(dest="outbox_action", metavar="[requeue]")
    requeue = outbox_actions.add_parser(
        "requeue",
        help="send dead letters again once the cause is fixed (e.g. the key enrolled); never re-signs",
        description="Move dead letters back into the outbox, byte for byte as they were signed; a running "
        "agent sends them within its poll interval.",
    )
    requeue.add_argument("record_id", nargs="?", metavar="ID", help="record id of a dead letter")
    requeue.add_argument("--all", action="store_true", help="every dead letter")
    requeue.add_argument(
        "--outbox", type=Path, default=argparse.SUPPRESS, help="the agent's outbox database file"
    )
    requeue.set_defaults(handler=_requeue)

    notices = actions.add_parser(
        "notices", help="what the hub told this station after the fact (records rejected in post-review)"
    )
    notices.add_argument("--outbox", type=Path, required=True, help="the agent's outbox database file")
    notices.add_argument("--limit", type=int, default=50, help="newest first, at most this many (default 50)")
    notices.set_defaults(handler=_notices)


def settings_from_args(args: argparse.Namespace) -> StationSettings:
    tls_files = (args.ca, args.cert, args.key)
    if args.insecure and any(tls_files):
        raise CommandError("--insecure and --ca/--cert/--key exclude each other")
    if not args.insecure and not all(tls_files):
        raise CommandError(
            "the hub link needs --ca, --cert and --key (or --insecure for a plaintext test bench)"
        )
    if args.outbox_max_depth < 1:
        raise CommandError(f"--outbox-max-depth must be at least 1, not {args.outbox_max_depth}")
    if args.window < 1:
        raise CommandError(f"--window must be at least 1, not {args.window}")
    for flag, value in (("--reconnect-max-s", args.reconnect_max_s), ("--ack-timeout-s", args.ack_timeout_s)):
        if not value > 0:
            raise CommandError(f"{flag} must be positive, not {value}")
    try:
        check_outbox_path(args.outbox)
    except OutboxError as error:
        raise CommandError(f"--outbox: {error}") from error
    if not args.signing_key.is_file():
        raise CommandError(f"--signing-key {args.signing_key}: no such file")
    try:
        read_signing_key(args.signing_key)
    except SigningKeyError as error:
        raise CommandError(f"--signing-key {error.path}: {error.reason}") from error
    for hub in args.hub:
        hub_host, _, hub_port = hub.rpartition(":")
        if not hub_host or not hub_port.isdigit() or not 0 < int(hub_port) < 65536:
            raise CommandError(f"--hub {hub}: needs HOST:PORT, e.g. {hub_host or hub}:50051")
    if len(set(args.hub)) != len(args.hub):
        raise CommandError(f"--hub: an address is given twice ({', '.join(args.hub)})")
    tls = None
    if not args.insecure:
        for flag, path in zip(("--ca", "--cert", "--key"), tls_files, strict=True):
            if not path.is_file():
                raise CommandError(f"{flag} {path}: no such file")
        warn_if_readable_by_others(args.key, "--key")
        try:
            tls = StationTls.from_files(args.ca, args.cert, args.key)
        except PkiError as error:
            raise CommandError(str(error)) from error
    try:
        lanes = tuple(load_lane_config(path) for path in args.lane)
    except LaneConfigError as error:
        raise CommandError(str(error)) from error
    for lane in lanes:
        # The PDA service's TLS files, checked now: not a traceback once the benches are open.
        if lane.pda is not None and lane.pda.cert is not None and lane.pda.key is not None:
            try:
                server_tls_credentials(lane.pda.cert, lane.pda.key)
            except PkiError as error:
                raise CommandError(f"{lane.source}: [pda] {error}") from error
    try:
        return StationSettings(
            station_id=args.station_id,
            signing_key=args.signing_key,
            outbox_path=args.outbox,
            hub_target=args.hub[0],
            hub_fallbacks=tuple(args.hub[1:]),
            tls=tls,
            insecure=args.insecure,
            outbox_max_depth=args.outbox_max_depth,
            window=args.window,
            lanes=lanes,
            metrics_listen=args.metrics_listen,
            uplink_backoff_max_s=args.reconnect_max_s,
            uplink_ack_timeout_s=args.ack_timeout_s,
        )
    except ValueError as error:
        raise CommandError(str(error)) from error


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from_args(args)
    try:
        return asyncio.run(_serve(settings))
    except StationAgentError as error:  # every error of the agent's, one line (station_agent.errors)
        raise CommandError(str(error)) from error


async def _serve(settings: StationSettings) -> int:
    with StopSignals() as stop:  # before the ready line: see StopSignals
        async with Station(settings) as station:
            # One line on stdout that scripts and tests can wait for.
            print(
                f"agent ready station={settings.station_id} hub={settings.hub_target} "
                f"lanes={len(station.lanes)} pda_port={station.pda_port or '-'} "
                f"metrics_port={station.metrics.port or '-'}",
                flush=True,
            )
            await stop.wait()
            log.info("agent for station %s shutting down: lanes, PDA service, uplink", settings.station_id)
            uplink = station.uplink
    log.info(
        "agent for station %s stopped: %d accepted, %d duplicate, %d rejected this run",
        settings.station_id,
        uplink.accepted,
        uplink.duplicate,
        uplink.rejected,
    )
    return 0


def _open_outbox(args: argparse.Namespace) -> OutboxStore:
    if args.outbox is None:
        raise CommandError("--outbox PATH is required (the agent's outbox database file)")
    if not args.outbox.exists():
        raise CommandError(f"--outbox {args.outbox}: no such file")
    try:
        # Depth is no limit here: requeueing a dead letter must work on a full outbox too.
        return OutboxStore(args.outbox, max_depth=sys.maxsize, create=False)
    except OutboxError as error:
        raise CommandError(str(error)) from error


def _outbox(args: argparse.Namespace) -> int:
    # rich is imported here and in _notices, not at the top: `agent run` prints no table and would
    # carry it in memory for months (issue 19: 1.8 MB of the idle agent's RSS).
    from rich.table import Table

    from tongjian.console import table_console

    with _open_outbox(args) as outbox:
        console = table_console()
        console.print(
            f"outbox {args.outbox}: {outbox.depth()} pending, oldest {outbox.oldest_age_s():.1f} s; "
            f"{len(outbox.rejected())} dead letters",
            soft_wrap=True,  # one line however long the path: scripts and people grep it
        )
        rejected = outbox.rejected()
        if rejected:
            table = Table(
                title=f"{len(rejected)} records refused by the hub (requeue ID|--all to send again)"
            )
            table.add_column("record id", no_wrap=True)
            table.add_column("rejected at (UTC)", no_wrap=True)
            table.add_column("reason", overflow="fold")
            for entry in rejected:
                at = datetime.fromtimestamp(entry.rejected_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
                table.add_row(entry.record_id, at, entry.reason)
            console.print(table)
    return 0


def _requeue(args: argparse.Namespace) -> int:
    if args.all == (args.record_id is not None):
        raise CommandError("requeue takes one record ID or --all")
    with _open_outbox(args) as outbox:
        try:
            if args.all:
                requeued = outbox.requeue_all()
            elif outbox.requeue(args.record_id):
                requeued = [args.record_id]
            else:
                raise CommandError(f"no dead letter with record id {args.record_id} in {args.outbox}")
        except RecordIdConflict as error:
            raise CommandError(str(error)) from error
        print(f"requeued {len(requeued)} records; {outbox.depth()} pending in {args.outbox}")
    return 0


def _notices(args: argparse.Namespace) -> int:
    from rich.table import Table

    from station_agent.hub_notices import HubNoticeStore
    from tongjian.console import table_console

    if not args.outbox.is_file():
        raise CommandError(f"--outbox {args.outbox}: no such file")
    if not 1 <= args.limit <= 10_000:
        raise CommandError(f"--limit {args.limit}: must be in 1..10000")
    store = HubNoticeStore(args.outbox)
    try:
        notices = store.notices(args.limit)
    finally:
        store.close()
    console = table_console()
    table = Table(title=f"{len(notices)} notices from the hub, newest first")
    for column in ("seq", "at (UTC)", "kind", "record id", "reason"):
        table.add_column(column, overflow="fold")
    for notice in notices:
        table.add_row(str(notice.seq), notice.at, notice.kind, notice.record_id or "-", notice.reason)
    console.print(table)
    return 0

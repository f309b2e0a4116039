"""``tongjian hub``: run the province hub and manage its schema, station directory, records and audit log.

Every subcommand takes ``--database-url``; without it ``TONGJIAN_HUB_DATABASE_URL`` is used, and
without that a SQLite file ``tongjian-hub.sqlite3`` in the current directory. Only ``hub migrate``
changes the schema: every other command (``serve`` included) refuses a database that is not at
this hub's revision, naming what to do. A URL that does not parse, or a database that cannot be
opened, is one line naming it, never a traceback.

Readers re-check what they show (``hub.record_integrity``): ``hub records`` lists a record whose
bytes, signature, key, columns or audit commitment fail as TAMPERED, with what failed, and not
its content.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tongjian.cli import CommandError
from tongjian.commands.stop_signal import StopSignals
from tongjian.console import table_console

_REPLICA_ID = re.compile(r"[A-Za-z0-9._:/-]{1,48}")

if TYPE_CHECKING:
    from hub.envelope_check import KnownKey
    from hub.review_queue import ReviewConfig
    from hub.store import HubStore
    from hub.trust_list import TrustList

DATABASE_URL_VARIABLE = "TONGJIAN_HUB_DATABASE_URL"
DEFAULT_DATABASE_FILE = "tongjian-hub.sqlite3"


def default_database_url() -> str:
    return os.environ.get(DATABASE_URL_VARIABLE) or f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"


def database_error(url: str, error: Exception) -> CommandError:
    """One line naming the database (password hidden) and what went wrong with it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = url
    if isinstance(error, SQLAlchemyError):
        # SQLAlchemy's messages run over several lines (statement, parameters, a link): the first
        # line of the driver's own message is what the operator needs.
        origin = getattr(error, "orig", None) or error
        text = str(origin).strip().splitlines()[0] if str(origin).strip() else type(origin).__name__
    else:
        text = str(error).strip().splitlines()[0]
    return CommandError(f"database {shown}: {text}")


def open_store(url: str, *, check_schema: bool = True) -> HubStore:
    """The hub's store at ``url``, its schema checked to be current; errors as one ``CommandError`` line."""
    from hub.store import HubStore, HubStoreError

    try:
        store = HubStore(url)
    except HubStoreError as error:
        raise CommandError(str(error)) from error
    try:
        if check_schema:
            store.check_schema()
    except (HubStoreError, SQLAlchemyError) as error:
        store.dispose()
        raise database_error(url, error) from error
    return store


FORMATS = ("table", "tsv", "json")


def register(commands: argparse._SubParsersAction) -> None:
    hub = commands.add_parser("hub", help="province hub: serve, stations, keys, records, audit")
    actions = hub.add_subparsers(dest="action", required=True, metavar="ACTION")

    def with_database(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--database-url",
            help=f"SQLAlchemy URL (default: ${DATABASE_URL_VARIABLE} or sqlite file ./{DEFAULT_DATABASE_FILE})",
        )
        return parser

    serve = with_database(actions.add_parser("serve", help="run the hub's gRPC ingest service"))
    serve.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT (default 127.0.0.1:50051)")
    serve.add_argument("--tls-cert", type=Path, help="hub certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="hub private key (PEM)")
    serve.add_argument("--client-ca", type=Path, help="CA that signs station client certificates (PEM)")
    serve.add_argument("--insecure", action="store_true", help="serve plaintext without TLS (tests, demos)")
    serve.add_argument("--metrics-listen", help="HOST:PORT for Prometheus /metrics")
    serve.add_argument(
        "--console-listen",
        help="HOST:PORT for the staff web console (people: `tongjian hub console-staff issue`)",
    )
    serve.add_argument(
        "--console-tls-cert", type=Path, help="serve the console over HTTPS: certificate (PEM)"
    )
    serve.add_argument("--console-tls-key", type=Path, help="the console certificate's private key (PEM)")
    serve.add_argument("--province", default="50", help="GB/T 2260 code of the hub's province")
    serve.add_argument("--station-rate", type=float, help="records per second allowed per station")
    serve.add_argument(
        "--audit-key",
        type=Path,
        help="Ed25519 key (PEM) that signs audit log checkpoints (default: --hub-key; neither: no checkpoints)",
    )
    serve.add_argument(
        "--audit-checkpoint-interval",
        type=float,
        default=300.0,
        help="seconds between audit checkpoints, written when the log grew (default 300)",
    )
    serve.add_argument(
        "--witness-interval",
        type=float,
        default=300.0,
        help="with federation: seconds between showing the newest checkpoint to every peer (default 300)",
    )
    serve.add_argument(
        "--label-key",
        type=Path,
        help="a hub outside the federation: its Ed25519 key (PEM) for e-labels (a federated hub uses --hub-key)",
    )
    serve.add_argument(
        "--check-mode",
        choices=("threads", "processes", "inline"),
        default="processes",
        help="where records are parsed, verified and judged: a process pool (default: the most records/s "
        "and the shortest Acks measured, docs/scale.md), a thread pool (less memory), or on the event loop",
    )
    serve.add_argument(
        "--check-workers", type=int, help="threads or processes checking records (default: CPUs)"
    )
    federation = serve.add_argument_group(
        "federation", "take part in the cross-province network (all of --hub-key and --national-key)"
    )
    federation.add_argument("--hub-key", type=Path, help="this hub's Ed25519 signing key (PEM)")
    federation.add_argument("--national-key", type=Path, help="the national trust-list public key (PEM)")
    federation.add_argument(
        "--peer-cert", type=Path, help="this hub's peer-hub certificate, to call peers (PEM)"
    )
    federation.add_argument("--peer-key", type=Path, help="the peer-hub certificate's private key (PEM)")
    federation.add_argument(
        "--directory-ttl", type=float, default=900.0, help="seconds a signed station directory is valid (900)"
    )
    federation.add_argument(
        "--archive-dir",
        type=Path,
        help="archive transfers between provinces (tongjian archive request ...): archives in transit kept here",
    )
    federation.add_argument(
        "--replica-id",
        help="this hub replica's stable name among replicas sharing the database (e.g. the service "
        "instance): restarted, it resumes its archive fetches at once (default: host/pid)",
    )
    federation.add_argument(
        "--transfer-days",
        type=float,
        default=30.0,
        help="days an archive transfer may take before it expires and the car goes back (30)",
    )
    federation.add_argument(
        "--forward-lease",
        type=float,
        default=60.0,
        help="seconds before an item a dead hub had sent is sent again by another (60)",
    )
    federation.add_argument(
        "--trust-list-refresh",
        type=float,
        default=5.0,
        help="seconds between reading the trust list again: a peer hub's new or revoked certificate "
        "applies to peer connections this soon, without a restart (5)",
    )
    review = serve.add_argument_group("post-review", "screening records into the review queue")
    review.add_argument(
        "--review-interval", type=float, default=10.0, help="seconds between screening rounds (10; 0: off)"
    )
    review.add_argument(
        "--review-sample",
        type=float,
        default=0.05,
        help="share of unflagged records sampled per station (0.05)",
    )
    serve.add_argument(
        "--limit-sets",
        type=Path,
        help="the province / date schedule of emission limit sets (TOML, inspection.limit_sets): the hub's "
        "verdict then says whether each run used its province's set; stations read the same file",
    )
    serve.set_defaults(handler=_serve)

    migrate = with_database(
        actions.add_parser("migrate", help="bring the database schema to this hub's newest revision")
    )
    migrate.add_argument(
        "--current", action="store_true", help="only show the database's revision and the newest one"
    )
    migrate.set_defaults(handler=_migrate)

    stations = actions.add_parser("stations", help="station directory").add_subparsers(
        dest="stations_action", required=True
    )
    add = with_database(stations.add_parser("add", help="register a station and enrol its public key"))
    add.add_argument("station_id")
    add.add_argument("--key", type=Path, required=True, help="the station's public key (PEM)")
    add.add_argument("--province", help="GB/T 2260 code of the station's province")
    add.add_argument("--valid-from", type=_timestamp, help="ISO 8601; no zone means UTC")
    add.add_argument("--valid-until", type=_timestamp, help="ISO 8601; no zone means UTC")
    add.set_defaults(handler=_stations_add)
    stations_list = with_database(stations.add_parser("list", help="registered stations"))
    stations_list.add_argument("--format", choices=FORMATS, help="table (terminal), tsv (pipe) or json")
    stations_list.set_defaults(handler=_stations_list)

    keys = actions.add_parser("keys", help="station keys").add_subparsers(dest="keys_action", required=True)
    revoke = with_database(
        keys.add_parser("revoke", help="revoke a key: new records signed with it are refused")
    )
    revoke.add_argument("key_id")
    revoke.add_argument("--at", type=_timestamp, help="revocation time, ISO 8601 (default now)")
    revoke.set_defaults(handler=_keys_revoke)
    keys_list = with_database(keys.add_parser("list", help="station keys: validity window and status"))
    keys_list.add_argument("--station", help="only this station's keys")
    keys_list.add_argument("--format", choices=FORMATS, help="table (terminal), tsv (pipe) or json")
    keys_list.set_defaults(handler=_keys_list)

    records = with_database(actions.add_parser("records", help="list stored records, newest first"))
    records.add_argument("--limit", type=int, default=20)
    records.add_argument("--station", help="only this station's records")
    records.add_argument(
        "--format",
        choices=FORMATS,
        help="table (default on a terminal), tsv (default when piped: whole values) or json",
    )
    records.set_defaults(handler=_records)

    vehicles = actions.add_parser("vehicles", help="the province's vehicle register").add_subparsers(
        dest="vehicles_action", required=True
    )
    vehicles_import = with_database(
        vehicles.add_parser(
            "import", help="import a vehicle register CSV (`tongjian sim fleet --csv` writes one)"
        )
    )
    vehicles_import.add_argument("file", metavar="FILE", help="register CSV (- = stdin)")
    vehicles_import.add_argument(
        "--province",
        required=True,
        help="this hub's province, GB/T 2260 code: other provinces' rows are skipped",
    )
    vehicles_import.set_defaults(handler=_vehicles_import)
    vehicles_show = with_database(vehicles.add_parser("show", help="one registered vehicle, by VIN or plate"))
    vehicles_show.add_argument("vin_or_plate", metavar="VIN_OR_PLATE")
    vehicles_show.add_argument("--json", action="store_true", help="print JSON")
    vehicles_show.set_defaults(handler=_vehicles_show)
    vehicles_history = with_database(
        vehicles.add_parser(
            "history",
            help="every inspection of a vehicle: by this hub's stations and forwarded from other provinces",
        )
    )
    vehicles_history.add_argument("vin", metavar="VIN")
    vehicles_history.add_argument(
        "--province", default="50", help="this hub's province, for stations with none registered (default 50)"
    )
    vehicles_history.add_argument(
        "--national-key",
        type=Path,
        default=os.environ.get("TONGJIAN_NATIONAL_KEY"),
        help="national trust-list public key (PEM), to check records other provinces forwarded "
        "(default $TONGJIAN_NATIONAL_KEY)",
    )
    vehicles_history.add_argument("--json", action="store_true", help="print JSON")
    vehicles_history.set_defaults(handler=_vehicles_history)

    from tongjian.commands import hub_audit

    hub_audit.register(actions, with_database)

    from tongjian.commands import hub_forwards

    hub_forwards.register(actions, with_database, FORMATS)

    from tongjian.commands import hub_console

    hub_console.register(actions, with_database)
    _register_federation(actions, with_database)


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{what} {path}: {error.strerror or error}") from error


def _serve(args: argparse.Namespace) -> int:
    from hub.errors import HubError
    from hub.record_checker import CheckMode
    from hub.server import HubConfig, HubServer, HubTls, freeze_startup_heap

    tls_files = (args.tls_cert, args.tls_key, args.client_ca)
    if any(tls_files) and not all(tls_files):
        raise CommandError("--tls-cert, --tls-key and --client-ca go together")
    if not any(tls_files) and not args.insecure:
        raise CommandError(
            "no TLS: give --tls-cert, --tls-key and --client-ca, or --insecure to serve plaintext"
        )
    if args.check_workers is not None and args.check_workers < 1:
        raise CommandError(f"--check-workers must be at least 1, not {args.check_workers}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _refuse_a_busy_port(args.listen)
    tls = None
    if all(tls_files):
        from pki.grpc_credentials import PkiError, server_credentials

        try:
            # Checked here, by file name: gRPC would only say "Failed to bind".
            server_credentials(args.tls_cert, args.tls_key, args.client_ca)
        except PkiError as error:
            raise CommandError(str(error)) from error
        tls = HubTls(
            cert_pem=_read(args.tls_cert, "certificate"),
            key_pem=_read(args.tls_key, "private key"),
            client_ca_pem=_read(args.client_ca, "client CA"),
        )
    else:
        logging.getLogger("tongjian.hub").warning(
            "!!! --insecure: the hub serves PLAINTEXT gRPC with NO client authentication !!!"
        )
    judge = None
    if args.limit_sets is not None:
        import functools

        from inspection.limit_sets import LimitSetScheduleError
        from inspection.verdicts import judge as judge_by_the_rules
        from station_agent.lane_config import load_limit_sets

        try:
            judge = functools.partial(judge_by_the_rules, limit_sets=load_limit_sets(args.limit_sets))
        except LimitSetScheduleError as error:
            raise CommandError(f"--limit-sets {error}") from error
    label_key = None
    if args.label_key is not None:
        from protos.envelope import InvalidKey, load_private_key

        try:
            label_key = load_private_key(_read(args.label_key, "label key"))
        except InvalidKey as error:
            raise CommandError(f"{args.label_key}: {error}") from error
    config = HubConfig(
        judge=judge,
        database_url=args.database_url or default_database_url(),
        listen=args.listen,
        province=args.province,
        label_key=label_key,
        station_rate_per_s=args.station_rate,
        metrics_listen=args.metrics_listen,
        console_listen=args.console_listen,
        console_tls=_console_tls(args),
        tls=tls,
        insecure_ok=tls is None,
        migrate_schema=False,  # only `tongjian hub migrate` changes the schema
        audit_key=_audit_key(args.audit_key),
        audit_checkpoint_interval_s=args.audit_checkpoint_interval,
        witness_interval_s=args.witness_interval,
        federation=_federation(args),
        archive_transfer=_archive_transfer(args),
        review=_review_config(args),
        review_screen_interval_s=args.review_interval or None,
        check_mode=CheckMode(args.check_mode),
        check_workers=args.check_workers,
    )

    async def run() -> None:
        with StopSignals() as stop:  # before the ready line: see StopSignals
            async with HubServer(config) as hub:
                freeze_startup_heap()
                metrics = f", metrics on port {hub.metrics_port}" if hub.metrics_port is not None else ""
                console = (
                    f", console on {'https' if config.console_tls else 'http'}://"
                    f"{args.console_listen.rpartition(':')[0]}:{hub.console_port}/"
                    if hub.console_port is not None
                    else ""
                )
                print(f"hub serving on port {hub.port}{metrics}{console}", flush=True)
                await stop.wait()
                await hub.stop(grace=5.0)

    from hub.store import HubStoreError
    from protos.server_port import PortInUse

    try:
        asyncio.run(run())
    except PortInUse as error:
        raise CommandError(str(error)) from error
    except (HubStoreError, SQLAlchemyError) as error:
        raise database_error(config.database_url, error) from error
    except HubError as error:  # a setting out of range, a writer that could not start: one line
        raise CommandError(str(error)) from error
    return 0


def _federation(args: argparse.Namespace) -> Any:
    """The federation settings ``hub serve`` was given, checked; None without --hub-key."""
    from datetime import timedelta

    from hub.forwarder import ForwarderSettings
    from hub.server import FederationConfig
    from protos.envelope import InvalidKey, load_private_key, load_public_key

    if args.hub_key is None and args.national_key is None:
        if args.peer_cert or args.peer_key:
            raise CommandError("--peer-cert and --peer-key need --hub-key and --national-key")
        return None
    if args.hub_key is None or args.national_key is None:
        raise CommandError("--hub-key and --national-key go together")
    if (args.peer_cert is None) != (args.peer_key is None):
        raise CommandError("--peer-cert and --peer-key go together")
    if not 10.0 <= args.directory_ttl <= 3600.0:
        raise CommandError(f"--directory-ttl {args.directory_ttl:g}: must be 10..3600 seconds")
    if not 1.0 <= args.forward_lease <= 3600.0:
        raise CommandError(f"--forward-lease {args.forward_lease:g}: must be 1..3600 seconds")
    if not 0.05 <= args.trust_list_refresh <= 3600.0:
        raise CommandError(f"--trust-list-refresh {args.trust_list_refresh:g}: must be 0.05..3600 seconds")
    try:
        hub_key = load_private_key(_read(args.hub_key, "hub key"))
    except InvalidKey as error:
        raise CommandError(f"--hub-key {args.hub_key}: {error}") from error
    try:
        national_key = load_public_key(_read(args.national_key, "national key"))
    except InvalidKey as error:
        raise CommandError(f"--national-key {args.national_key}: {error}") from error
    return FederationConfig(
        hub_key=hub_key,
        national_key=national_key,
        peer_cert_pem=_read(args.peer_cert, "peer certificate") if args.peer_cert else None,
        peer_key_pem=_read(args.peer_key, "peer key") if args.peer_key else None,
        directory_ttl=timedelta(seconds=args.directory_ttl),
        forwarder=ForwarderSettings(
            lease=timedelta(seconds=args.forward_lease),
            ack_timeout_s=min(30.0, args.forward_lease / 2),
        ),
        trust_list_refresh_s=args.trust_list_refresh,
    )


def _archive_transfer(args: argparse.Namespace) -> Any:
    """Archive transfer settings (``--archive-dir``, with federation); None without it."""
    from datetime import timedelta

    from hub.transfer_driver import TransferSettings

    if args.replica_id is not None and not _REPLICA_ID.fullmatch(args.replica_id):
        raise CommandError(
            f"--replica-id {args.replica_id!r}: 1..48 letters, digits and . _ : / - (no spaces)"
        )
    if args.archive_dir is None:
        if args.replica_id is not None:
            raise CommandError(
                "--replica-id names a replica taking part in archive transfers: give --archive-dir"
            )
        return None
    if args.hub_key is None:
        raise CommandError("--archive-dir needs federation (--hub-key and --national-key)")
    if not 0.01 <= args.transfer_days <= 365:
        raise CommandError(f"--transfer-days {args.transfer_days:g}: must be 0.01..365")
    try:
        args.archive_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"--archive-dir {args.archive_dir}: {error.strerror or error}") from error
    settings = TransferSettings(archive_dir=args.archive_dir, ttl=timedelta(days=args.transfer_days))
    if args.replica_id is not None:
        settings = dataclasses.replace(settings, replica=args.replica_id)
    return settings


def _refuse_a_busy_port(address: str) -> None:
    """One line, before gRPC tries: its C core would print a log line of its own beside ours.

    The hub's own bind (``protos.server_port.listen``, no SO_REUSEPORT) stays the authority; this
    only gives the common case - another hub already there - a clean message."""
    import errno
    import socket

    from hub.errors import HubConfigError
    from hub.server import split_host_port
    from protos.server_port import PortInUse

    try:
        host, port = split_host_port(address, "--listen")
    except HubConfigError as error:
        raise CommandError(str(error)) from error
    if port == 0:
        return
    try:
        candidates = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CommandError(f"--listen {address}: {error.strerror}") from error
    for family, kind, protocol, _name, socket_address in candidates:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
            try:
                probe.bind(socket_address)
            except OSError as error:
                if error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
                    raise CommandError(str(PortInUse(address))) from error
                raise


def _migrate(args: argparse.Namespace) -> int:
    from hub.store import HubStoreError

    url = args.database_url or default_database_url()
    store = open_store(url, check_schema=False)
    try:
        head = store.head_revision()
        if args.current:
            current = store.schema_revision()
            state = "current" if current == head else "needs `tongjian hub migrate`"
            print(f"database revision {current or '(none)'}; this hub's newest {head} ({state})")
            return 0
        store.migrate()
        print(f"database at revision {store.schema_revision()}")
    except (HubStoreError, SQLAlchemyError) as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    return 0


def _stations_add(args: argparse.Namespace) -> int:
    from hub.store import HubStoreError

    store = _open(args)
    try:
        store.register_station(args.station_id, province=args.province)
        enrolment = store.enrol_station_key(
            args.station_id, _read(args.key, "public key"), args.valid_from, args.valid_until
        )
    except HubStoreError as error:
        raise CommandError(str(error)) from error
    finally:
        store.dispose()
    print(f"station {args.station_id}: key {enrolment.key_id} enrolled")
    for warning in enrolment.warnings:
        print(f"warning: {warning}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from hub.store import HubStoreError

    store = _open(args)
    try:
        store.revoke_key(args.key_id, args.at)
    except HubStoreError as error:
        raise CommandError(str(error)) from error
    finally:
        store.dispose()
    print(f"key {args.key_id} revoked")
    return 0


def _audit_key(path: Path | None) -> Any:
    from protos.envelope import InvalidKey, load_private_key

    if path is None:
        return None
    try:
        return load_private_key(_read(path, "--audit-key"))
    except InvalidKey as error:
        raise CommandError(f"--audit-key {path}: {error}") from error


def _console_tls(args: argparse.Namespace) -> tuple[Path, Path] | None:
    if (args.console_tls_cert is None) != (args.console_tls_key is None):
        raise CommandError("--console-tls-cert and --console-tls-key go together")
    if args.console_tls_cert is None:
        return None
    for path in (args.console_tls_cert, args.console_tls_key):
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
    return (args.console_tls_cert, args.console_tls_key)


def _open(args: argparse.Namespace) -> HubStore:
    return open_store(args.database_url or default_database_url())


def _output_format(args: argparse.Namespace) -> str:
    """What the operator asked for; otherwise a table on a terminal and whole values down a pipe."""
    if args.format is not None:
        return str(args.format)
    return "table" if sys.stdout.isatty() else "tsv"


def _emit(
    output: str,
    title: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    styled: list[list[str]] | None = None,
    extra: dict[str, Any] | None = None,
    key: str = "rows",
) -> None:
    """Print ``rows`` (dicts keyed by ``columns``) as a rich table, tab-separated lines or JSON."""
    if output == "json":
        print(json.dumps({**(extra or {}), key: rows}, ensure_ascii=False, indent=2, default=str))
        return
    if output == "tsv":
        print("\t".join(columns))
        for row in rows:
            print("\t".join("-" if row.get(c) is None else str(row.get(c)) for c in columns))
        return
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for index, row in enumerate(rows):
        cells = (
            styled[index]
            if styled is not None
            else [str(row.get(c) if row.get(c) is not None else "-") for c in columns]
        )
        table.add_row(*cells)
    table_console().print(table)


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def _records(args: argparse.Namespace) -> int:
    from hub.review_queue import ReviewQueue

    if args.limit < 1:
        raise CommandError(f"--limit must be at least 1, not {args.limit}")
    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        records = store.list_records(limit=args.limit, station_id=args.station)
        checks = store.check_records(records)
        total = store.count_records(args.station)
        revoked = ReviewQueue(store.database).revocations_of([(r.station_id, r.record_id) for r in records])
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    columns = ["record_id", "station_id", "vin", "plate", "received_at", "verified", "station_overall"]
    columns += ["hub_overall", "verdict_mismatch", "revoked", "problems"]
    rows: list[dict[str, Any]] = []
    styled: list[list[str]] = []
    for record, check in zip(records, checks, strict=True):
        if check.ok:
            row: dict[str, Any] = {
                "record_id": record.record_id,
                "station_id": record.station_id,
                "vin": record.vin,
                "plate": record.plate,
                "received_at": _when(record.received_at),
                "verified": True,
                "station_overall": record.station_overall,
                "hub_overall": record.hub_overall,
                "verdict_mismatch": record.verdict_mismatch,
                "revoked": _revocation(revoked.get((record.station_id, record.record_id))),
            }
            styled.append(
                [
                    record.record_id,
                    record.station_id,
                    record.vin,
                    record.plate,
                    record.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "[green]yes[/]",
                    record.station_overall or "-",
                    record.hub_overall or "-",
                    "[red]YES[/]" if record.verdict_mismatch else "no",
                    f"[red]{row['revoked']}[/]" if row["revoked"] else "no",
                    "",
                ]
            )
        else:
            # Nothing of a tampered row is shown but where it is and what failed.
            row = {
                "record_id": record.record_id,
                "station_id": record.station_id,
                "verified": False,
                "problems": list(check.problems),
            }
            styled.append(
                [
                    record.record_id,
                    record.station_id,
                    *(["-"] * 3),
                    "[red]TAMPERED[/]",
                    *(["-"] * 4),
                    "; ".join(check.problems),
                ]
            )
        rows.append(row)
    output = _output_format(args)
    if output == "tsv":
        for row in rows:
            row["verified"] = "yes" if row["verified"] else "TAMPERED"
            row["problems"] = "; ".join(row.get("problems", []))
    _emit(
        output,
        f"hub records ({len(records)} of {total}, newest first)",
        columns,
        rows,
        styled,
        {"total": total},
        key="records",
    )
    return 0


def _review_config(args: argparse.Namespace) -> ReviewConfig:
    from hub.review_queue import ReviewConfig

    if args.review_interval < 0:
        raise CommandError(f"--review-interval must not be negative, not {args.review_interval}")
    if not 0 <= args.review_sample <= 1:
        raise CommandError(f"--review-sample must be 0..1, not {args.review_sample}")
    return ReviewConfig(province=args.province, sample_rate=args.review_sample)


def _revocation(revocation: tuple[str, str] | None) -> str | None:
    """How ``hub records`` shows a result a reviewer revoked (post-review, ``hub.review_queue``)."""
    return None if revocation is None else f"revoked by {revocation[0]}: {revocation[1]}"


def _stations_list(args: argparse.Namespace) -> int:
    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        stations = store.stations()
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    rows = [
        {
            "station_id": s.station_id,
            "province": s.province,
            "registered_at": _when(s.registered_at),
            "keys": s.key_count,
        }
        for s in stations
    ]
    _emit(
        _output_format(args),
        f"stations ({len(rows)})",
        ["station_id", "province", "registered_at", "keys"],
        rows,
        key="stations",
    )
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        keys = store.keys(args.station)
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    now = datetime.now(UTC)
    rows = [
        {
            "key_id": k.key_id,
            "station_id": k.station_id,
            "status": k.status(now),
            "valid_from": _when(k.valid_from),
            "valid_until": _when(k.valid_until),
            "revoked_at": _when(k.revoked_at),
            "added_at": _when(k.added_at),
        }
        for k in keys
    ]
    columns = ["key_id", "station_id", "status", "valid_from", "valid_until", "revoked_at", "added_at"]
    _emit(_output_format(args), f"station keys ({len(rows)})", columns, rows, key="keys")
    return 0


def _province_code(text: str, option: str = "--province") -> str:
    from inspection import PROVINCES

    if text not in set(PROVINCES.values()):
        raise CommandError(f"{option} {text!r}: not a GB/T 2260 province code (e.g. 50, 51)")
    return text


def _vehicles_import(args: argparse.Namespace) -> int:
    from hub.vehicle_register import ImportReport
    from inspection.vehicle_register_csv import RegisterHeaderError, read_register

    province = _province_code(args.province)
    url = args.database_url or default_database_url()

    def progress(report: ImportReport) -> None:
        print(
            f"{report.rows} rows: {report.inserted} inserted, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.other_province} other province, {report.bad} bad",
            file=sys.stderr,
            flush=True,
        )

    store = _open(args)
    try:
        stream = sys.stdin if args.file == "-" else Path(args.file).open(encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as error:
        store.dispose()
        raise CommandError(f"{args.file}: {error.strerror or error}") from error
    try:
        report = store.vehicles.import_rows(read_register(stream), province, progress)
    except RegisterHeaderError as error:
        raise CommandError(f"{args.file}: {error}") from error
    except UnicodeDecodeError as error:
        raise CommandError(f"{args.file}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        if stream is not sys.stdin:
            stream.close()
        store.dispose()
    print(
        f"{args.file}: {report.rows} rows; {report.inserted} inserted, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.other_province} registered in another province (skipped), "
        f"{report.bad} bad"
    )
    for bad in report.bad_rows[:10]:
        print(f"  bad: {bad.reason}")
    if report.bad > 10:
        print(f"  ... and {report.bad - 10} more bad rows")
    return 0 if report.bad == 0 else 1


def _vehicle_json(registered: Any) -> dict[str, Any]:
    from inspection.vehicle_register_csv import COLUMNS, format_row

    cells = dict(
        zip(
            COLUMNS,
            format_row(registered.vehicle, registered.owner_ref, registered.engine_number, registered.colour),
            strict=True,
        )
    )
    return {**cells, "status": registered.status.value, "updated_at": _when(registered.updated_at)}


def _vehicles_show(args: argparse.Namespace) -> int:
    from inspection import InvalidIdentifier, validate_vin

    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        try:
            found = store.vehicles.get(validate_vin(args.vin_or_plate))
            matches = [] if found is None else [found]
        except InvalidIdentifier:
            matches = store.vehicles.find_by_plate(args.vin_or_plate)
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    if not matches:
        raise CommandError(f"no vehicle with VIN or plate {args.vin_or_plate!r} in this province's register")
    shown = [_vehicle_json(registered) for registered in matches]
    if args.json:
        print(json.dumps({"vehicles": shown}, ensure_ascii=False, indent=2))
        return 0
    for index, vehicle in enumerate(shown):
        if index:
            print()
        width = max(map(len, vehicle))
        for name, value in vehicle.items():
            print(f"{name:<{width}}  {value if value != '' else '-'}")
    return 0


def _vehicles_history(args: argparse.Namespace) -> int:
    from hub.vehicle_history import forwarded_history, local_history, merge_histories
    from inspection import InvalidIdentifier, validate_vin
    from protos.envelope import InvalidKey, load_public_key

    try:
        vin = validate_vin(args.vin)
    except InvalidIdentifier as error:
        raise CommandError(str(error)) from error
    province = _province_code(args.province)
    national_key = None
    if args.national_key is not None:
        try:
            national_key = load_public_key(_read(Path(args.national_key), "national key"))
        except InvalidKey as error:
            raise CommandError(f"--national-key {args.national_key}: {error}") from error
    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        registered = store.vehicles.get(vin)
        history = merge_histories(
            local_history(store, vin, province), forwarded_history(store, vin, national_key)
        )
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    rows = [
        {
            "finished_at": _when(entry.finished_at),
            "station_id": entry.station_id,
            "inspected_in": entry.inspected_in,
            "station_overall": entry.station_overall,
            "hub_overall": entry.hub_overall,
            "verifies": entry.verifies,
            "problem": entry.problem,
            "revoked": entry.revoked,
            "origin": entry.origin,
            "record_id": entry.record_id,
            "received_at": _when(entry.received_at),
        }
        for entry in history
    ]
    status = registered.status.value if registered is not None else "not in this province's register"
    if args.json:
        print(
            json.dumps(
                {"vin": vin, "register_status": status, "inspections": rows}, ensure_ascii=False, indent=2
            )
        )
        return 0
    styled = [
        [
            row["finished_at"],
            row["station_id"],
            row["inspected_in"],
            f"{row['station_overall'] or '-'} / {row['hub_overall'] or '-'}"
            + (f" [red]REVOKED[/] {row['revoked']}" if row["revoked"] else ""),
            "[green]yes[/]" if row["verifies"] else f"[red]NO[/]: {row['problem']}",
            row["record_id"],
        ]
        for row in rows
    ]
    _emit(
        "table",
        f"{vin} ({status}): {len(rows)} inspections, oldest first",
        ["when", "station", "province", "station / hub verdict", "verifies", "record"],
        rows,
        styled,
    )
    return 0


# ---------------------------------------------------------------- federation: trust list, peer directories


def _register_federation(
    actions: argparse._SubParsersAction,
    with_database: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    def with_national_key(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--national-key", type=Path, required=True, help="the national public key (national.pub.pem)"
        )
        return parser

    trust = actions.add_parser("trust-list", help="the national trust list this hub holds").add_subparsers(
        dest="trust_list_action", required=True
    )
    install = with_national_key(
        with_database(
            trust.add_parser("install", help="verify a trust list file and install it (newer only)")
        )
    )
    install.add_argument("file", type=Path, help="the trust list (from `tongjian national add-province`)")
    install.set_defaults(handler=_trust_list_install)
    show = with_national_key(
        with_database(trust.add_parser("show", help="the trust list in force, verified (exit 1 if expired)"))
    )
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=_trust_list_show)

    directory = actions.add_parser("directory", help="peer provinces' station directories").add_subparsers(
        dest="directory_action", required=True
    )
    directory_show = with_database(
        directory.add_parser(
            "show",
            help="cached peer directories; with --province (and --national-key) that directory's keys, verified",
        )
    )
    directory_show.add_argument("--province", help="GB/T 2260 code of the peer province")
    directory_show.add_argument("--national-key", type=Path, help="the national public key, to verify with")
    directory_show.add_argument("--format", choices=FORMATS, help="table (terminal), tsv (pipe) or json")
    directory_show.set_defaults(handler=_directory_show)


def _trust_list_install(args: argparse.Namespace) -> int:
    from hub.errors import HubError
    from hub.trust_list import TrustListStore
    from protos.signed_document import MalformedDocument, parse_document
    from tongjian.commands.national import read_file, read_public_key

    national_key = read_public_key(args.national_key, "national key")
    try:
        document = parse_document(read_file(args.file, "trust list"), f"trust list {args.file}")
    except MalformedDocument as error:
        raise CommandError(str(error)) from error
    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        trust_list = TrustListStore(store.database).install(document, national_key, datetime.now(UTC))
    except HubError as error:
        raise CommandError(f"trust list {args.file}: {error}") from error
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    provinces = " ".join(sorted(trust_list.provinces)) or "none"
    print(
        f"trust list version {trust_list.version} installed: provinces {provinces}; "
        f"not after {trust_list.not_after.isoformat(timespec='seconds')}"
    )
    return 0


def _installed_trust_list(args: argparse.Namespace, store: HubStore, now: datetime) -> TrustList:
    """The newest installed list, verified, expired or not (for showing); CommandError if none."""
    from hub.errors import TrustListInvalid
    from hub.trust_list import TrustListStore, read_trust_list
    from tongjian.commands.national import read_public_key

    national_key = read_public_key(args.national_key, "national key")
    document = TrustListStore(store.database).current_document()
    if document is None:
        raise CommandError(
            "no trust list installed: run `tongjian hub trust-list install FILE --national-key PUB`"
        )
    try:
        return read_trust_list(document, national_key, now, allow_expired=True)
    except TrustListInvalid as error:
        raise CommandError(f"the installed trust list: {error}") from error


def _trust_list_show(args: argparse.Namespace) -> int:
    from tongjian.commands.national import print_trust_list

    now = datetime.now(UTC)
    url = args.database_url or default_database_url()
    store = _open(args)
    try:
        trust_list = _installed_trust_list(args, store, now)
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    print_trust_list(trust_list, now, args.format, "installed")
    return 1 if trust_list.expired(now) else 0


def _directory_show(args: argparse.Namespace) -> int:
    from hub.errors import DirectoryInvalid, HubError
    from hub.published_directory import PeerDirectoryCache

    now = datetime.now(UTC)
    url = args.database_url or default_database_url()
    output = _output_format(args)
    store = _open(args)
    try:
        cache = PeerDirectoryCache(store.database)
        if args.province is None:
            rows = [
                {
                    "province": cached.province,
                    "sequence": cached.sequence,
                    "issued_at": _when(cached.issued_at),
                    "valid_until": _when(cached.valid_until),
                    "state": "expired" if now > cached.valid_until else "current",
                }
                for cached in cache.all()
            ]
            columns = ["province", "sequence", "issued_at", "valid_until", "state"]
            _emit(
                output,
                f"peer station directories ({len(rows)}, not re-verified)",
                columns,
                rows,
                key="directories",
            )
            return 0
        if args.national_key is None:
            raise CommandError(
                "--province needs --national-key: the directory is verified with the trust list's hub key"
            )
        trust_list = _installed_trust_list(args, store, now)
        try:
            hub_key = trust_list.entry(args.province).hub_public_key
            directory = cache.get_any(args.province, hub_key, now)
        except (DirectoryInvalid, HubError) as error:
            raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    rows = [
        {
            "key_id": key.key_id,
            "station_id": key.station_id,
            "status": _peer_key_status(key, now),
            "valid_from": _when(key.valid_from),
            "valid_until": _when(key.valid_until),
            "revoked_at": _when(key.revoked_at),
        }
        for key in sorted(directory.keys.values(), key=lambda k: (k.station_id, k.key_id))
    ]
    state = "EXPIRED" if directory.expired(now) else "current"
    title = (
        f"station directory of province {directory.province}: sequence {directory.sequence}, "
        f"issued {_when(directory.issued_at)}, valid until {_when(directory.valid_until)} ({state})"
    )
    extra = {
        "province": directory.province,
        "sequence": directory.sequence,
        "issued_at": _when(directory.issued_at),
        "valid_until": _when(directory.valid_until),
        "expired": directory.expired(now),
    }
    if output == "tsv":
        print(f"# {title}")
    columns = ["key_id", "station_id", "status", "valid_from", "valid_until", "revoked_at"]
    _emit(output, title, columns, rows, extra=extra, key="keys")
    return 0


def _peer_key_status(key: KnownKey, now: datetime) -> str:
    from hub.directory import key_status

    return key_status(key.valid_from, key.valid_until, key.revoked_at, now)

"""``tongjian hub``: run the province hub and manage its station directory, records and audit log.

Every subcommand takes ``--database-url``; without it ``TONGJIAN_HUB_DATABASE_URL`` is used, and
without that a SQLite file ``tongjian-hub.sqlite3`` in the current directory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from tongjian.cli import CommandError
from tongjian.console import table_console

DATABASE_URL_VARIABLE = "TONGJIAN_HUB_DATABASE_URL"
DEFAULT_DATABASE_FILE = "tongjian-hub.sqlite3"


def default_database_url() -> str:
    return os.environ.get(DATABASE_URL_VARIABLE) or f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"


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
    serve.add_argument("--province", default="50", help="GB/T 2260 code of the hub's province")
    serve.add_argument("--station-rate", type=float, help="records per second allowed per station")
    serve.set_defaults(handler=_serve)

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

    keys = actions.add_parser("keys", help="station keys").add_subparsers(dest="keys_action", required=True)
    revoke = with_database(
        keys.add_parser("revoke", help="revoke a key: new records signed with it are refused")
    )
    revoke.add_argument("key_id")
    revoke.add_argument("--at", type=_timestamp, help="revocation time, ISO 8601 (default now)")
    revoke.set_defaults(handler=_keys_revoke)

    records = with_database(actions.add_parser("records", help="list stored records, newest first"))
    records.add_argument("--limit", type=int, default=20)
    records.add_argument("--station", help="only this station's records")
    records.set_defaults(handler=_records)

    audit = actions.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_action", required=True
    )
    verify = with_database(audit.add_parser("verify", help="check the audit log's hash chain"))
    verify.set_defaults(handler=_audit_verify)


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _open_store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hub.store import HubStore, HubStoreError

    url = args.database_url or default_database_url()
    try:
        store = HubStore(url)
        store.migrate()
    except (HubStoreError, SQLAlchemyError) as error:
        raise CommandError(f"database {url}: {error}") from error
    return store


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{what} {path}: {error.strerror or error}") from error


def _serve(args: argparse.Namespace) -> int:
    from hub.server import HubConfig, HubConfigError, HubServer, HubTls

    tls_files = (args.tls_cert, args.tls_key, args.client_ca)
    if any(tls_files) and not all(tls_files):
        raise CommandError("--tls-cert, --tls-key and --client-ca go together")
    if not any(tls_files) and not args.insecure:
        raise CommandError(
            "no TLS: give --tls-cert, --tls-key and --client-ca, or --insecure to serve plaintext"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    config = HubConfig(
        database_url=args.database_url or default_database_url(),
        listen=args.listen,
        province=args.province,
        station_rate_per_s=args.station_rate,
        metrics_listen=args.metrics_listen,
        tls=tls,
        insecure_ok=tls is None,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with HubServer(config) as hub:
            metrics = f", metrics on port {hub.metrics_port}" if hub.metrics_port is not None else ""
            print(f"hub serving on port {hub.port}{metrics}", flush=True)
            await stop.wait()
            await hub.stop(grace=5.0)

    try:
        asyncio.run(run())
    except (HubConfigError, SQLAlchemyError, RuntimeError) as error:
        raise CommandError(str(error)) from error
    return 0


def _stations_add(args: argparse.Namespace) -> int:
    from hub.store import HubStoreError

    store = _open_store(args)
    try:
        store.register_station(args.station_id, province=args.province)
        key_id = store.add_station_key(
            args.station_id, _read(args.key, "public key"), args.valid_from, args.valid_until
        )
    except HubStoreError as error:
        raise CommandError(str(error)) from error
    finally:
        store.dispose()
    print(f"station {args.station_id}: key {key_id} enrolled")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from hub.store import HubStoreError

    store = _open_store(args)
    try:
        store.revoke_key(args.key_id, args.at)
    except HubStoreError as error:
        raise CommandError(str(error)) from error
    finally:
        store.dispose()
    print(f"key {args.key_id} revoked")
    return 0


def _records(args: argparse.Namespace) -> int:
    from rich.table import Table

    from protos.envelope import signature_valid
    from protos.tongjian.v1 import inspection_pb2 as pb

    if args.limit < 1:
        raise CommandError(f"--limit must be at least 1, not {args.limit}")
    store = _open_store(args)
    try:
        records = store.list_records(limit=args.limit, station_id=args.station)
        keys = store.known_keys()
        total = store.count_records(args.station)
    finally:
        store.dispose()
    table = Table(title=f"hub records ({len(records)} of {total}, newest first)")
    for column in (
        "record id",
        "station",
        "VIN",
        "plate",
        "received",
        "verified",
        "station",
        "hub",
        "mismatch",
    ):
        table.add_column(column)
    for record in records:
        key = keys.get(record.key_id)
        envelope = pb.SignedRecord(record=record.payload, key_id=record.key_id, signature=record.signature)
        verified = key is not None and signature_valid(envelope, key.public_key)
        table.add_row(
            record.record_id,
            record.station_id,
            record.vin,
            record.plate,
            record.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            "[green]yes[/]" if verified else "[red]NO[/]",
            record.station_overall or "-",
            record.hub_overall or "-",
            "[red]YES[/]" if record.verdict_mismatch else "no",
        )
    table_console().print(table)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        check = store.verify_audit_chain()
        head_seq, head_hash = store.audit_head_hash()
    finally:
        store.dispose()
    if not check.ok:
        print(
            f"audit chain BROKEN at seq {check.first_bad_seq}: {check.problem} ({check.rows_checked} rows read)"
        )
        return 1
    print(f"audit chain ok: {check.rows_checked} rows, head seq {head_seq} hash {head_hash}")
    return 0

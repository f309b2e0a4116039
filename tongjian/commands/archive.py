"""``tongjian archive``: a vehicle's whole file as a signed BagIt bag, and its offline check.

``export VIN DIR``   writes the bag (hub.archive_bag) from the hub's database, signed with the hub key.
``check DIR``        verifies a bag with no database: every hash, missing and extra files, the hub
                     signature (key from the national trust list in the bag, or given), every station
                     signature inside; prints one line per bad item and exits 1 if there is any.

For registry clerks at the destination province, over gRPC to their own hub's
``tongjian.v1.ArchiveTransfer`` service (``hub.archive_transfer_client``) with their
registry-clerk certificate, so the hub knows who decided:

``request VIN --from P``         ask province P for the vehicle's archive; follows the bag with a
                                 progress bar until it is received and verified (``--no-wait``: not)
``status TRANSFER [--follow]``   where a transfer is (``--json`` for scripts)
``check-identity TRANSFER --vin V --engine-number E --colour C --photo FILE...``
                                 what the clerk saw of the car; exits 1 naming each mismatch
``accept TRANSFER``              register the car here under a new plate (the source releases it)
``refuse TRANSFER --reason R``   the car goes back to its province

Connection: ``--hub HOST:PORT --ca CA.pem --cert NAME.cert.pem --key NAME.key.pem`` (or
``$TONGJIAN_CLERK_HUB``, ``_CA``, ``_CERT``, ``_KEY``); ``--insecure`` for a plaintext demo hub.
Exit status: 0 done; 1 the transfer was refused or expired, or the identity did not match; 2 the
hub refused the call or could not be reached (one line on stderr naming why).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from tongjian.cli import CommandError
from tongjian.commands.archive_transfer import register_transfer_actions
from tongjian.commands.hub import DATABASE_URL_VARIABLE, database_error, default_database_url, open_store


def register(commands: argparse._SubParsersAction) -> None:
    archive = commands.add_parser(
        "archive", help="a vehicle's archive: export and check a bag; transfer it between provinces"
    )
    actions = archive.add_subparsers(dest="action", required=True, metavar="ACTION")
    register_transfer_actions(actions)

    export = actions.add_parser("export", help="write a vehicle's whole file as a signed BagIt bag")
    export.add_argument("vin", metavar="VIN")
    export.add_argument("bag_dir", type=Path, metavar="DIR", help="the bag directory (must not exist)")
    export.add_argument(
        "--database-url", help=f"SQLAlchemy URL (default: ${DATABASE_URL_VARIABLE} or ./tongjian-hub.sqlite3)"
    )
    export.add_argument("--hub-key", type=Path, required=True, help="the hub's Ed25519 signing key (PEM)")
    export.add_argument("--province", default="50", help="the hub's GB/T 2260 province code (default 50)")
    export.set_defaults(handler=_export)

    check = actions.add_parser("check", help="verify a bag offline; exit 1 naming each bad item")
    check.add_argument("bag_dir", type=Path, metavar="DIR")
    keys = check.add_mutually_exclusive_group(required=True)
    keys.add_argument("--national-key", type=Path, help="the national trust list's public key (PEM)")
    keys.add_argument("--hub-public-key", type=Path, help="the source hub's public key (PEM)")
    check.set_defaults(handler=_check)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{what} {path}: {error.strerror or error}") from error


def _export(args: argparse.Namespace) -> int:
    from hub.archive_bag import export_bag
    from hub.countersign import HubIdentity
    from hub.errors import HubError
    from protos.envelope import InvalidKey, load_private_key

    try:
        hub_key = load_private_key(_read(args.hub_key, "--hub-key"))
    except InvalidKey as error:
        raise CommandError(f"--hub-key {args.hub_key}: {error}") from error
    url = args.database_url or default_database_url()
    store = open_store(url)
    try:
        summary = export_bag(
            store, args.vin, args.bag_dir, HubIdentity(args.province, hub_key), datetime.now(UTC)
        )
    except HubError as error:
        raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    except OSError as error:
        raise CommandError(f"{args.bag_dir}: {error.strerror or error}") from error
    finally:
        store.dispose()
    print(
        f"{summary.bag_dir}: {summary.local_records} local and {summary.forwarded_records} forwarded "
        f"records, {summary.labels} labels; {summary.payload_files} payload files, {summary.payload_bytes} bytes"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from hub.archive_bag import check_bag
    from protos.envelope import InvalidKey, load_public_key

    option, path = (
        ("--national-key", args.national_key)
        if args.national_key
        else ("--hub-public-key", args.hub_public_key)
    )
    try:
        key = load_public_key(_read(path, option))
    except InvalidKey as error:
        raise CommandError(f"{option} {path}: {error}") from error
    if not args.bag_dir.is_dir():
        raise CommandError(f"{args.bag_dir}: not a directory")
    if args.national_key:
        problems = check_bag(args.bag_dir, national_key=key)
    else:
        problems = check_bag(args.bag_dir, hub_public_key=key)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.bag_dir}: {len(problems)} bad item(s)")
        return 1
    print(f"{args.bag_dir}: every item verifies")
    return 0

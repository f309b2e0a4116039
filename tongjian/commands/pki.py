"""``tongjian pki``: a development certificate authority for mutual TLS (hub, station, person)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pki.authority import DEFAULT_CA_DAYS, DEFAULT_CA_NAME, DEFAULT_DAYS, Role, init_ca, issue
from pki.pem_files import PkiError
from tongjian.cli import CommandError


def register(commands: argparse._SubParsersAction) -> None:
    pki = commands.add_parser("pki", help="development CA and mTLS certificates").add_subparsers(
        dest="action", required=True
    )
    init = pki.add_parser("init", help="create a self-signed CA (ca.cert.pem, ca.key.pem)")
    init.add_argument("--out", type=Path, required=True, help="directory for the CA's files")
    init.add_argument("--name", default=DEFAULT_CA_NAME, help=f"CA common name (default: {DEFAULT_CA_NAME})")
    init.add_argument("--days", type=int, default=DEFAULT_CA_DAYS, help="validity in days")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    init.set_defaults(handler=_init)

    new = pki.add_parser("issue", help="issue a hub, station or person certificate")
    new.add_argument("--ca", type=Path, required=True, help="the CA directory (from `tongjian pki init`)")
    new.add_argument("--role", choices=[role.value for role in Role], required=True)
    new.add_argument(
        "--name", required=True, help="subject CN and file stem: station id, person id or hub name"
    )
    new.add_argument("--out", type=Path, required=True, help="directory for <name>.cert.pem, <name>.key.pem")
    new.add_argument(
        "--dns", action="append", default=[], metavar="NAME", help="subjectAltName DNS entry (repeatable)"
    )
    new.add_argument(
        "--ip", action="append", default=[], metavar="ADDR", help="subjectAltName IP entry (repeatable)"
    )
    new.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help=f"validity in days (default {DEFAULT_DAYS})"
    )
    new.add_argument("--force", action="store_true", help="replace existing files")
    new.set_defaults(handler=_issue)


def _init(args: argparse.Namespace) -> int:
    try:
        files = init_ca(args.out, args.name, days=args.days, force=args.force)
    except (PkiError, ValueError) as error:
        raise CommandError(str(error)) from error
    print(f"CA certificate: {files.cert_path}\nCA private key: {files.key_path}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    try:
        files = issue(
            args.ca,
            Role(args.role),
            args.name,
            args.out,
            dns_names=args.dns,
            ip_addresses=args.ip,
            days=args.days,
            force=args.force,
        )
    except (PkiError, ValueError) as error:
        raise CommandError(str(error)) from error
    print(
        f"certificate:    {files.cert_path}\nprivate key:    {files.key_path}\nCA certificate: {files.ca_cert_path}"
    )
    return 0

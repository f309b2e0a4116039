"""``tongjian national``: the national authority's tools - its signing key and the trust list.

The trust list (``docs/design/federation.md``) names every province hub: GB/T 2260 code, name,
the endpoint of its peer service, the common name of its ``peer-hub`` certificate, the CA that
issues that certificate, and its hub signing key. The file is one serialized ``SignedDocument``
(body: a ``TrustList``) signed by the national key; every edit writes version + 1, atomically
(a reader sees the old file or the new one, never half of one). Hubs install it with
``tongjian hub trust-list install FILE --national-key national.pub.pem``.

A province hub's signing key is an Ed25519 pair like a station's; its key id must name the hub
as ``hub-<province>``::

    tongjian keys new --station-id hub-51 --name hub --out hub-keys   # hub.key.pem, hub.pub.pem
    tongjian pki issue --ca peer-ca --role peer-hub --name peer-hub-51 --out peer
    tongjian national init --out national
    tongjian national add-province --key national/national.key.pem --list trust-list.bin \\
        --province 51 --name Sichuan --endpoint hub51.example:7443 --peer-name peer-hub-51 \\
        --peer-ca peer-ca/ca.cert.pem --hub-key hub-keys/hub.pub.pem
    tongjian national show trust-list.bin --national-key national/national.pub.pem
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tongjian.cli import CommandError
from tongjian.console import table_console

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from hub.trust_list import ProvinceHubEntry, TrustList

PRIVATE_KEY_FILE = "national.key.pem"
PUBLIC_KEY_FILE = "national.pub.pem"
DEFAULT_DAYS = 30
MAX_DAYS = 366


def register(commands: argparse._SubParsersAction) -> None:
    national = commands.add_parser("national", help="national authority: signing key and trust list")
    actions = national.add_subparsers(dest="action", required=True, metavar="ACTION")

    init = actions.add_parser(
        "init", help=f"write a new national key pair ({PRIVATE_KEY_FILE}, {PUBLIC_KEY_FILE})"
    )
    init.add_argument("--out", type=Path, required=True, help="directory for the key pair")
    init.add_argument("--force", action="store_true", help="overwrite an existing key pair")
    init.set_defaults(handler=_init)

    def editing(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--key", type=Path, required=True, help=f"the national private key ({PRIVATE_KEY_FILE})"
        )
        parser.add_argument("--list", type=Path, required=True, help="the trust list file (a SignedDocument)")
        parser.add_argument("--province", required=True, help="GB/T 2260 code, e.g. 51")
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_DAYS,
            help=f"the new version is valid this long (default {DEFAULT_DAYS})",
        )
        return parser

    add = editing(
        actions.add_parser("add-province", help="add or replace a province hub (creates the list if missing)")
    )
    add.add_argument("--name", required=True, help="the province's name, e.g. Sichuan")
    add.add_argument("--endpoint", required=True, help="HOST:PORT of its hub's peer service")
    add.add_argument("--peer-name", required=True, help="common name of its hub's peer-hub certificate")
    add.add_argument(
        "--peer-ca", type=Path, required=True, help="CA that issues its peer-hub certificates (PEM)"
    )
    add.add_argument("--hub-key", type=Path, required=True, help="its hub's public signing key (PEM)")
    add.set_defaults(handler=_add_province)

    remove = editing(actions.add_parser("remove-province", help="remove a province hub from the list"))
    remove.set_defaults(handler=_remove_province)

    show = actions.add_parser(
        "show", help="verify a trust list file and print its provinces (exit 1 if expired)"
    )
    show.add_argument("file", type=Path)
    show.add_argument(
        "--national-key", type=Path, required=True, help=f"the national public key ({PUBLIC_KEY_FILE})"
    )
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=_show)


# ---------------------------------------------------------------- files


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{what} {path}: {error.strerror or error}") from error


def read_public_key(path: Path, what: str) -> Ed25519PublicKey:
    from protos.envelope import InvalidKey, load_public_key

    try:
        return load_public_key(read_file(path, what))
    except (InvalidKey, ValueError) as error:
        raise CommandError(f"{what} {path}: {error}") from error


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    from protos.envelope import InvalidKey, load_private_key

    try:
        return load_private_key(read_file(path, "national key"))
    except InvalidKey as error:
        raise CommandError(f"national key {path}: {error}") from error


def read_trust_list_file(
    path: Path, national_key: Ed25519PublicKey, now: datetime, *, allow_expired: bool = False
) -> TrustList:
    """A trust list file, verified against the national key; one ``CommandError`` line otherwise."""
    from hub.errors import TrustListInvalid
    from hub.trust_list import read_trust_list
    from protos.signed_document import MalformedDocument, parse_document

    try:
        document = parse_document(read_file(path, "trust list"), f"trust list {path}")
        return read_trust_list(document, national_key, now, allow_expired=allow_expired)
    except (MalformedDocument, TrustListInvalid) as error:
        raise CommandError(f"trust list {path}: {error}") from error


def _write_atomically(path: Path, data: bytes) -> None:
    """The new file appears whole under ``path`` or not at all (a temporary file, then rename)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as error:
        raise CommandError(f"trust list {path}: cannot write: {error.strerror or error}") from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # a public document: every hub reads it
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(f"trust list {path}: cannot write: {error.strerror or error}") from error


# ---------------------------------------------------------------- commands


def _init(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.trust_list import NATIONAL_SIGNER
    from pki.pem_files import PkiError, write_private_key
    from protos.envelope import key_id_of

    private_path, public_path = args.out / PRIVATE_KEY_FILE, args.out / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists() and not args.force:
            raise CommandError(f"{path} exists (use --force to overwrite)")
    key = Ed25519PrivateKey.generate()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        write_private_key(private_path, key)  # 0600 from the first byte on
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    except PkiError as error:
        raise CommandError(str(error)) from error
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write: {error.strerror or error}") from error
    print(f"key id:      {key_id_of(NATIONAL_SIGNER, key.public_key())}")
    print(f"private key: {private_path} (keep it offline)\npublic key:  {public_path} (give it to every hub)")
    return 0


def _edit(args: argparse.Namespace, change: str, entry: ProvinceHubEntry | None) -> int:
    """Write version + 1 of the list with ``entry`` put in (or ``args.province`` taken out)."""
    from hub.errors import HubError
    from hub.trust_list import NATIONAL_SIGNER, build_trust_list
    from protos.signed_document import sign_document

    if not 1 <= args.days <= MAX_DAYS:
        raise CommandError(f"--days {args.days} must be 1..{MAX_DAYS}")
    key = _read_private_key(args.key)
    now = datetime.now(UTC).replace(microsecond=0)
    provinces: dict[str, ProvinceHubEntry] = {}
    version = 0
    if args.list.exists():
        current = read_trust_list_file(args.list, key.public_key(), now, allow_expired=True)
        provinces, version = dict(current.provinces), current.version
    elif entry is None:
        raise CommandError(f"trust list {args.list}: no such file")
    if entry is None:
        if args.province not in provinces:
            raise CommandError(
                f"trust list {args.list}: province {args.province!r} is not in version {version}"
            )
        del provinces[args.province]
    else:
        provinces[entry.province] = entry
    try:
        body = build_trust_list(version + 1, list(provinces.values()), now, now + timedelta(days=args.days))
    except HubError as error:
        raise CommandError(str(error)) from error
    _write_atomically(args.list, sign_document(body, NATIONAL_SIGNER, key).SerializeToString())
    listed = " ".join(sorted(provinces)) or "none"
    not_after = (now + timedelta(days=args.days)).isoformat()
    print(f"trust list {args.list}: version {version + 1}, province {args.province} {change}")
    print(f"provinces: {listed}; not after {not_after}")
    return 0


def _add_province(args: argparse.Namespace) -> int:
    from hub.trust_list import ProvinceHubEntry

    entry = ProvinceHubEntry.create(
        province=args.province,
        name=args.name,
        endpoint=args.endpoint,
        peer_name=args.peer_name,
        peer_ca_pem=read_file(args.peer_ca, "peer CA"),
        hub_public_key=read_public_key(args.hub_key, "hub key"),
    )
    return _edit(args, "added", entry)


def _remove_province(args: argparse.Namespace) -> int:
    return _edit(args, "removed", None)


def trust_list_rows(trust_list: TrustList) -> list[dict[str, Any]]:
    """One row per province, for tables and JSON (shared with ``tongjian hub trust-list show``)."""
    from cryptography import x509

    rows = []
    for province in sorted(trust_list.provinces):
        entry = trust_list.provinces[province]
        certificate = x509.load_pem_x509_certificates(entry.peer_ca_pem)[0]  # checked on reading
        rows.append(
            {
                "province": entry.province,
                "name": entry.name,
                "endpoint": entry.endpoint,
                "peer_name": entry.peer_name,
                "peer_ca": certificate.subject.rfc4514_string(),
                "peer_ca_not_after": certificate.not_valid_after_utc.isoformat(timespec="seconds"),
                "hub_key_id": entry.hub_key_id,
            }
        )
    return rows


def print_trust_list(trust_list: TrustList, now: datetime, output: str, source: str) -> None:
    expired = trust_list.expired(now)
    header = {
        "source": source,
        "version": trust_list.version,
        "issued_at": trust_list.issued_at.isoformat(timespec="seconds"),
        "not_after": trust_list.not_after.isoformat(timespec="seconds"),
        "expired": expired,
        "signed_by": trust_list.document.key_id,
    }
    rows = trust_list_rows(trust_list)
    if output == "json":
        print(json.dumps({**header, "provinces": rows}, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    state = "[red]EXPIRED[/]" if expired else "valid"
    table = Table(
        title=f"trust list {source}: version {trust_list.version}, {state} until {header['not_after']}, "
        f"signed by {trust_list.document.key_id}"
    )
    columns = ["province", "name", "endpoint", "peer_name", "peer_ca", "hub_key_id"]
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[column]) for column in columns))
    table_console().print(table)


def _show(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    national_key = read_public_key(args.national_key, "national key")
    trust_list = read_trust_list_file(args.file, national_key, now, allow_expired=True)
    print_trust_list(trust_list, now, args.format, str(args.file))
    return 1 if trust_list.expired(now) else 0

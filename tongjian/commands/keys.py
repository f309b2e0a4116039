"""``tongjian keys``: station signing keys (Ed25519, PEM)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protos.envelope import key_id_of
from station_agent.record_signer import SigningKeyError, read_signing_key
from tongjian.cli import CommandError


def register(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="station signing keys").add_subparsers(
        dest="action", required=True
    )
    new = keys.add_parser("new", help="write a new Ed25519 key pair as PEM files")
    new.add_argument("--station-id", required=True, help="station the key signs for, e.g. 50-0001")
    new.add_argument(
        "--out", type=Path, required=True, help="directory for <name>.key.pem and <name>.pub.pem"
    )
    new.add_argument("--name", help="file name stem (default: the station id)")
    new.add_argument("--force", action="store_true", help="overwrite existing files")
    new.set_defaults(handler=_new)
    show = keys.add_parser("id", help="print the key id of a private key")
    show.add_argument("--station-id", required=True)
    show.add_argument("private_key", type=Path)
    show.set_defaults(handler=_key_id)


def write_key_pair(
    station_id: str, out: Path, name: str | None = None, force: bool = False
) -> tuple[Path, Path, str]:
    """Create a key pair in ``out``; returns (private path, public path, key id)."""
    stem = name or station_id
    private_path, public_path = out / f"{stem}.key.pem", out / f"{stem}.pub.pem"
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise CommandError(f"{path} exists (use --force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path, key_id_of(station_id, key.public_key())


def _new(args: argparse.Namespace) -> int:
    private_path, public_path, key_id = write_key_pair(args.station_id, args.out, args.name, args.force)
    print(f"key id:      {key_id}\nprivate key: {private_path}\npublic key:  {public_path}")
    return 0


def _key_id(args: argparse.Namespace) -> int:
    try:
        key = read_signing_key(args.private_key)
    except SigningKeyError as error:
        raise CommandError(str(error)) from error
    print(key_id_of(args.station_id, key.public_key()))
    return 0

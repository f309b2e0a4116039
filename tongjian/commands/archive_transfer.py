"""``tongjian archive request | status | check-identity | accept | refuse``: archive transfers for
registry clerks, as gRPC calls to their own hub (see ``tongjian.commands.archive``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.json_format import MessageToDict

from tongjian.cli import CommandError

T = TypeVar("T")
_ENV = "TONGJIAN_CLERK_"
_ENDED_BADLY = frozenset({"refused", "expired"})
MAX_PHOTO_BYTES = 2 * 1024 * 1024


def register_transfer_actions(actions: argparse._SubParsersAction) -> None:
    def connection(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub", metavar="HOST:PORT", help=f"your province's hub (${_ENV}HUB)")
        parser.add_argument("--ca", type=Path, help=f"CA certificate of the hub's certificate (${_ENV}CA)")
        parser.add_argument("--cert", type=Path, help=f"your registry-clerk certificate (${_ENV}CERT)")
        parser.add_argument("--key", type=Path, help=f"its private key (${_ENV}KEY)")
        parser.add_argument("--insecure", action="store_true", help="plaintext, no certificate (demo hubs)")

    request = actions.add_parser("request", help="ask another province for a vehicle's archive (clerks)")
    request.add_argument("vin", metavar="VIN")
    request.add_argument("--from", dest="from_province", required=True, metavar="P", help="e.g. 50")
    request.add_argument("--no-wait", action="store_true", help="do not follow the bag until it is received")
    connection(request)
    request.set_defaults(handler=_request)

    status = actions.add_parser("status", help="a transfer's state and progress (clerks)")
    status.add_argument("transfer_id", metavar="TRANSFER")
    status.add_argument("--follow", action="store_true", help="a progress bar until received or ended")
    status.add_argument("--json", action="store_true", help="the TransferStatus message as JSON")
    connection(status)
    status.set_defaults(handler=_status)

    check = actions.add_parser("check-identity", help="record what you saw of the car (clerks)")
    check.add_argument("transfer_id", metavar="TRANSFER")
    check.add_argument("--vin", required=True)
    check.add_argument("--engine-number", required=True)
    check.add_argument("--colour", required=True)
    check.add_argument("--photo", type=Path, action="append", required=True, help="JPEG; repeatable")
    connection(check)
    check.set_defaults(handler=_check_identity)

    accept = actions.add_parser("accept", help="register the car here under a new plate (clerks)")
    accept.add_argument("transfer_id", metavar="TRANSFER")
    connection(accept)
    accept.set_defaults(handler=_accept)

    refuse = actions.add_parser("refuse", help="refuse the transfer; the car goes back (clerks)")
    refuse.add_argument("transfer_id", metavar="TRANSFER")
    refuse.add_argument("--reason", required=True, help="why (at most 1000 characters)")
    connection(refuse)
    refuse.set_defaults(handler=_refuse)


# ---------------------------------------------------------------- connection


def _setting(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name, None) or os.environ.get(f"{_ENV}{name.upper()}")
    if not value:
        raise CommandError(f"--{name} (or ${_ENV}{name.upper()}) is required")
    return str(value)


def _channel(args: argparse.Namespace) -> grpc.aio.Channel:
    from pki.grpc_credentials import PkiError, channel_credentials

    hub = _setting(args, "hub")
    host, _, port = hub.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--hub {hub!r}: needs HOST:PORT")
    if args.insecure:
        return grpc.aio.insecure_channel(hub)
    paths = {name: Path(_setting(args, name)) for name in ("ca", "cert", "key")}
    for name, path in paths.items():
        if not path.is_file():
            raise CommandError(f"--{name} {path}: no such file")
    try:
        credentials = channel_credentials(paths["ca"], paths["cert"], paths["key"])
    except PkiError as error:
        raise CommandError(str(error)) from error
    return grpc.aio.secure_channel(hub, credentials)


def _run(args: argparse.Namespace, action: Callable[[Any], Awaitable[T]]) -> T:
    from hub.archive_transfer_client import ArchiveTransferClient, TransferCallError

    async def main() -> T:
        async with _channel(args) as channel:
            try:
                return await action(ArchiveTransferClient(channel))
            except TransferCallError as error:
                raise CommandError(f"{error.code.name}: {error.message}") from error

    return asyncio.run(main())


# ---------------------------------------------------------------- printing


def _summary(status: Any) -> str:
    lines = [
        f"transfer {status.transfer_id}: {status.state}" + (f" ({status.reason})" if status.reason else ""),
        f"  vehicle {status.vin}, province {status.from_province} -> {status.to_province}"
        + f" ({'this hub is the ' + status.role})",
    ]
    if status.total_bytes:
        lines.append(
            f"  archive: {status.confirmed_files}/{status.total_files} files, "
            f"{status.confirmed_bytes:,}/{status.total_bytes:,} bytes received"
        )
    if status.old_plate:
        lines.append(f"  plate: {status.old_plate}" + (f" -> {status.new_plate}" if status.new_plate else ""))
    lines += [f"  mismatch: {m.field}: {m.detail}" for m in status.mismatches]
    lines += [f"  bad item: {problem}" for problem in status.problems]
    return "\n".join(lines)


async def _follow(client: Any, status: Any) -> Any:
    """A progress bar over the bag's bytes until the transfer waits for the clerk or ends."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task(status.state, total=status.total_bytes or None)
        async for update in client.follow(status.transfer_id):
            status = update
            progress.update(
                task,
                description=update.state,
                total=update.total_bytes or None,
                completed=update.confirmed_bytes,
            )
    return status


def _exit_status(status: Any) -> int:
    return 1 if status.state in _ENDED_BADLY else 0


# ---------------------------------------------------------------- actions


def _request(args: argparse.Namespace) -> int:
    async def action(client: Any) -> Any:
        status = await client.request(args.vin, args.from_province)
        print(f"transfer {status.transfer_id} requested")
        if not args.no_wait:
            status = await _follow(client, status)
        return status

    status = _run(args, action)
    print(_summary(status))
    return _exit_status(status)


def _status(args: argparse.Namespace) -> int:
    async def action(client: Any) -> Any:
        status = await client.status(args.transfer_id)
        if args.follow:
            status = await _follow(client, status)
        return status

    status = _run(args, action)
    if args.json:
        print(
            json.dumps(MessageToDict(status, preserving_proto_field_name=True), ensure_ascii=False, indent=2)
        )
    else:
        print(_summary(status))
    return _exit_status(status)


def _check_identity(args: argparse.Namespace) -> int:
    photos: list[tuple[str, bytes]] = []
    for path in args.photo:
        try:
            size = path.stat().st_size
            if size > MAX_PHOTO_BYTES:
                raise CommandError(f"--photo {path}: {size} bytes, at most {MAX_PHOTO_BYTES}")
            photos.append((path.name, path.read_bytes()))
        except OSError as error:
            raise CommandError(f"--photo {path}: {error.strerror or error}") from error
    status = _run(
        args,
        lambda client: client.check_identity(
            args.transfer_id, args.vin, args.engine_number, args.colour, photos
        ),
    )
    print(_summary(status))
    return 1 if status.mismatches else 0


def _accept(args: argparse.Namespace) -> int:
    status = _run(args, lambda client: client.accept(args.transfer_id))
    print(_summary(status))
    return 0


def _refuse(args: argparse.Namespace) -> int:
    status = _run(args, lambda client: client.refuse(args.transfer_id, args.reason))
    print(_summary(status))
    return 0

"""``tongjian pda``: a command-line PDA for the lane service, and issuing inspectors' credentials.

    tongjian pda issue-credential --inspector ID --station ID --lanes 1,2 --directory FILE
                                                  (on the station: prints the credential once)
    tongjian pda revoke-credential --inspector ID --directory FILE     (ends that inspector's sessions)
    tongjian pda unlock --inspector ID --directory FILE   (lifts a lockout after failed sign-ins)
    tongjian pda sign-in  --server HOST:PORT --inspector ID             (credential from
                          $TONGJIAN_PDA_CREDENTIAL or the first line of stdin; prints a token)
    tongjian pda check-in --server HOST:PORT --lane N --vin VIN --plate PLATE ...   (prints the record id;
                          `tongjian sim fleet` prints these arguments for generated vehicles)
    tongjian pda vehicles --server HOST:PORT --lane N
    tongjian pda watch    --server HOST:PORT --record ID    (each state change until the visit ends)
    tongjian pda check    --server HOST:PORT --record ID --item CODE=pass|fail[:note] ... [--reason TEXT]
    tongjian pda photo    --server HOST:PORT --record ID --item CODE FILE.jpg
    tongjian pda complete --server HOST:PORT --record ID    (prints the verdict and the failing items)
    tongjian pda abort    --server HOST:PORT --record ID --reason TEXT

Every call but sign-in takes the session token from ``--token`` or ``$TONGJIAN_PDA_TOKEN``. The
credential is never taken from the command line, where other users could read it in ``ps``. The
lane service is reached over TLS, trusting the CA in ``--ca`` (or ``$TONGJIAN_PDA_CA``); plaintext
only with ``--insecure``, for a service whose lane file says ``insecure = true``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import TypeVar

import grpc

from inspection import Vehicle
from inspection.record import InspectionPurpose
from inspection.vehicle_fields import (
    VEHICLE_FIELDS,
    FieldValueError,
    VehicleField,
    vehicle_from_values,
    vehicle_to_arguments,
)
from pki.grpc_credentials import PkiError, server_only_channel_credentials
from protos.record_mapping import purpose_to_proto, vehicle_to_proto
from protos.tongjian.v1 import inspection_pb2, lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory, InspectorDirectoryError, parse_lanes
from tongjian.cli import CommandError

TOKEN_VARIABLE = "TONGJIAN_PDA_TOKEN"
CREDENTIAL_VARIABLE = "TONGJIAN_PDA_CREDENTIAL"
CA_VARIABLE = "TONGJIAN_PDA_CA"
CHUNK_BYTES = 64 * 1024
TIMEOUT_S = 30.0
T = TypeVar("T")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pda = commands.add_parser("pda", help="inspectors' PDA: lane service client, credentials").add_subparsers(
        dest="action", required=True
    )

    issue = pda.add_parser(
        "issue-credential", help="issue (or replace) an inspector's credential for a station's lanes"
    )
    issue.add_argument("--inspector", required=True, help="inspector id, e.g. 50-0001-07")
    issue.add_argument("--station", required=True, help="the station id the credential is for, e.g. 50-0001")
    issue.add_argument(
        "--lanes", type=_lanes, required=True, help="the lanes it may act on, comma-separated, e.g. 1,2"
    )
    issue.add_argument("--directory", type=Path, required=True, help="the station's inspector directory file")
    issue.add_argument("--name", default="", help="the inspector's name, for the station's list")
    issue.set_defaults(handler=_issue)

    revoke = pda.add_parser("revoke-credential", help="revoke an inspector's credential; their sessions end")
    revoke.add_argument("--inspector", required=True)
    revoke.add_argument(
        "--directory", type=Path, required=True, help="the station's inspector directory file"
    )
    revoke.set_defaults(handler=_revoke)

    unlock = pda.add_parser("unlock", help="lift an inspector's lockout after repeated failed sign-ins")
    unlock.add_argument("--inspector", required=True)
    unlock.add_argument(
        "--directory", type=Path, required=True, help="the station's inspector directory file"
    )
    unlock.set_defaults(handler=_unlock)

    def client(
        name: str, help_text: str, token: bool = True, description: str | None = None
    ) -> argparse.ArgumentParser:
        parser = pda.add_parser(name, help=help_text, description=description or help_text)
        parser.add_argument("--server", required=True, help="the lane service, HOST:PORT")
        parser.add_argument(
            "--ca", type=Path, help=f"CA certificate that signed the lane service's (default: ${CA_VARIABLE})"
        )
        parser.add_argument(
            "--insecure", action="store_true", help="plaintext, for a lane service with insecure = true"
        )
        if token:
            parser.add_argument("--token", help=f"session token (default: ${TOKEN_VARIABLE})")
        return parser

    sign_in = client(
        "sign-in",
        "sign in; prints the session token",
        token=False,
        description=(
            "Sign in to the lane service and print a session token (for --token or "
            f"${TOKEN_VARIABLE}). The credential is read from the environment variable "
            f"{CREDENTIAL_VARIABLE} if set, else from the first line of standard input (stdin); "
            "never from the command line, where others could read it."
        ),
    )
    sign_in.add_argument("--inspector", required=True)
    sign_in.set_defaults(handler=_sign_in)

    check_in = client("check-in", "check a vehicle in to a lane (starts its benches); prints the record id")
    check_in.add_argument("--lane", type=int, required=True)
    add_vehicle_arguments(check_in)
    check_in.add_argument(
        "--purpose",
        choices=("registration", "periodic"),
        help="registration of a new vehicle or periodic inspection (the rules' new-vehicle values); "
        "not given: read from the dates as for older records",
    )
    check_in.add_argument(
        "--laden", action="store_true", help="the vehicle is tested laden (laden brake limits)"
    )
    check_in.set_defaults(handler=_check_in)

    vehicles = client("vehicles", "list the vehicles in a lane")
    vehicles.add_argument("--lane", type=int, required=True)
    vehicles.set_defaults(handler=_vehicles)

    check = client("check", "submit visual check items (all or none are accepted)")
    check.add_argument("--record", required=True, help="record id (from `vehicles`)")
    check.add_argument(
        "--item", action="append", required=True, metavar="CODE=pass|fail[:note]", help="repeat for each item"
    )
    check.add_argument(
        "--reason",
        default="",
        help="why: required when an item already has a result (the record keeps both entries)",
    )
    check.set_defaults(handler=_check)

    photo = client("photo", "upload a JPEG photo for a check item; prints its SHA-256")
    photo.add_argument("--record", required=True)
    photo.add_argument("--item", required=True, help="check item code the photo documents")
    photo.add_argument("file", type=Path)
    photo.set_defaults(handler=_photo)

    complete = client("complete", "complete the inspection; prints the station's verdict and failing items")
    complete.add_argument("--record", required=True)
    complete.set_defaults(handler=_complete)

    abort = client("abort", "end a visit stuck on a bench (or left unfinished); nothing is signed")
    abort.add_argument("--record", required=True)
    abort.add_argument("--reason", required=True, help="kept as the visit's error, e.g. 'brake tester stuck'")
    abort.set_defaults(handler=_abort)

    watch = client("watch", "follow a visit bench by bench until it is complete or aborted")
    watch.add_argument("--record", required=True)
    watch.set_defaults(handler=_watch)

    status = client(
        "status", "each bench of a lane: up or down, since when, last error (exit status 3 while one is down)"
    )
    status.add_argument("--lane", type=int, required=True)
    status.set_defaults(handler=_status)


def _lanes(text: str) -> frozenset[int]:
    try:
        return parse_lanes(text)
    except InspectorDirectoryError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _issue(args: argparse.Namespace) -> int:
    try:
        credential = InspectorDirectory(args.directory).issue(
            args.inspector, args.name, station_id=args.station, lanes=args.lanes
        )
    except InspectorDirectoryError as error:
        raise CommandError(str(error)) from error
    print(credential)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        revoked = InspectorDirectory(args.directory).revoke(args.inspector)
    except InspectorDirectoryError as error:
        raise CommandError(str(error)) from error
    if not revoked:
        raise CommandError(f"no inspector {args.inspector!r} in {args.directory}")
    print(f"revoked {args.inspector}: open sessions end within seconds")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    try:
        unlocked = InspectorDirectory(args.directory).unlock(args.inspector)
    except InspectorDirectoryError as error:
        raise CommandError(str(error)) from error
    if not unlocked:
        raise CommandError(f"inspector {args.inspector!r} is not locked out in {args.directory}")
    print(f"unlocked {args.inspector}: they may sign in again")
    return 0


def _channel(args: argparse.Namespace) -> grpc.Channel:
    """A channel to ``--server``: TLS trusting ``--ca`` / ``$TONGJIAN_PDA_CA``, or plaintext if asked."""
    ca = args.ca or (Path(os.environ[CA_VARIABLE]) if os.environ.get(CA_VARIABLE) else None)
    if args.insecure:
        if args.ca is not None:
            raise CommandError("--ca and --insecure: choose one")
        print(
            f"tongjian pda: WARNING: --insecure: talking to {args.server} in PLAINTEXT; the credential and"
            " session token can be read on the network",
            file=sys.stderr,
        )
        return grpc.insecure_channel(args.server)
    if ca is None:
        raise CommandError(
            f"the lane service is reached over TLS: pass --ca CA.cert.pem (or set ${CA_VARIABLE});"
            " --insecure only for a test bench serving plaintext"
        )
    try:
        return grpc.secure_channel(args.server, server_only_channel_credentials(ca))
    except PkiError as error:
        raise CommandError(f"--ca {error}") from error


def _call(args: argparse.Namespace, rpc: Callable[[lane_pb2_grpc.LaneServiceStub], T]) -> T:
    """One call on a fresh channel to ``--server``; a gRPC error becomes a ``CommandError``."""
    with _channel(args) as channel:
        try:
            return rpc(lane_pb2_grpc.LaneServiceStub(channel))
        except grpc.RpcError as error:
            raise _rpc_error(error) from error


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        raise CommandError(
            f"no session token: pass --token or set ${TOKEN_VARIABLE} (from `tongjian pda sign-in`)"
        )
    return token


def _rpc_error(error: grpc.RpcError) -> CommandError:
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    return CommandError(f"{code.name if code else 'ERROR'}: {details}")


def _sign_in(args: argparse.Namespace) -> int:
    credential = os.environ.get(CREDENTIAL_VARIABLE) or sys.stdin.readline().strip()
    if not credential:
        raise CommandError(f"no credential: set ${CREDENTIAL_VARIABLE} or give it on stdin")
    request = lane_pb2.SignInRequest(inspector_id=args.inspector, credential=credential)
    reply = _call(args, lambda stub: stub.SignIn(request, timeout=TIMEOUT_S))
    print(reply.session_token)
    return 0


def _option_type(spec: VehicleField) -> Callable[[str], object]:
    def parse(text: str) -> object:
        try:
            return spec.parse(text)
        except FieldValueError as error:
            raise argparse.ArgumentTypeError(error.reason) from None

    parse.__name__ = spec.kind.value  # argparse names the type in its messages
    return parse


def add_vehicle_arguments(parser: argparse.ArgumentParser) -> None:
    """The vehicle as registered (``inspection.vehicle_fields``); the lane service checks VIN, plate
    and the rest and names what is wrong."""
    for spec in VEHICLE_FIELDS:
        if spec.is_flag:
            parser.add_argument(spec.option, dest=spec.attribute, action="store_true", help=spec.help or None)
            continue
        metavar = spec.option.removeprefix("--").replace("-", "_").upper()
        if spec.choices is not None:
            # Plain text with argparse's own choices check, so the usage lists the values.
            parser.add_argument(
                spec.option,
                dest=spec.attribute,
                required=spec.required,
                default=None if spec.default is None else spec.format(spec.default),
                choices=[member.value for member in spec.choices],
                help=spec.help or None,
            )
            continue
        parser.add_argument(
            spec.option,
            dest=spec.attribute,
            metavar=metavar,
            type=_option_type(spec),
            required=spec.required,
            default=spec.default,
            help=spec.help or None,
        )


def vehicle_from_arguments(args: argparse.Namespace) -> Vehicle:
    values = {spec.attribute: getattr(args, spec.attribute) for spec in VEHICLE_FIELDS}
    # The choices come as their text (argparse checked them); the rest is parsed already.
    for spec in VEHICLE_FIELDS:
        if spec.choices is not None and isinstance(values[spec.attribute], str):
            values[spec.attribute] = spec.parse(values[spec.attribute])
    return vehicle_from_values(values)


# The ``check-in`` arguments that describe a vehicle (the inverse of ``vehicle_from_arguments``).
vehicle_arguments = vehicle_to_arguments


def _check_in(args: argparse.Namespace) -> int:
    purpose = InspectionPurpose(args.purpose) if args.purpose else InspectionPurpose.UNRECORDED
    request = lane_pb2.CheckInRequest(
        session_token=_token(args),
        lane=args.lane,
        vehicle=vehicle_to_proto(vehicle_from_arguments(args)),
        purpose=purpose_to_proto(purpose),
        laden=args.laden,
    )
    reply = _call(args, lambda stub: stub.CheckIn(request, timeout=TIMEOUT_S))
    print(reply.record_id)
    return 0


def _vehicles(args: argparse.Namespace) -> int:
    request = lane_pb2.ListVehiclesRequest(session_token=_token(args), lane=args.lane)
    reply = _call(args, lambda stub: stub.ListVehicles(request, timeout=TIMEOUT_S))
    print(f"station {reply.station_id} lane {reply.lane}: {len(reply.vehicles)} vehicle(s)")
    for v in reply.vehicles:
        state = _state(v.state)
        fuel = inspection_pb2.Fuel.Name(v.fuel).removeprefix("FUEL_").lower()
        line = f"{v.record_id}\t{v.plate}\t{v.vin}\t{fuel}\t{state}\tchecks={len(v.checked_items)}\tphotos={v.photo_count}"
        print(line + (f"\terror={v.error}" if v.error else ""))
    return 0


def parse_item(text: str) -> lane_pb2.CheckItem:
    """``CODE=pass``, ``CODE=fail:note``; the note may contain anything after the first colon."""
    code, sep, rest = text.partition("=")
    outcome, _, note = rest.partition(":")
    if not sep or not code or outcome not in ("pass", "fail"):
        raise CommandError(f"item {text!r}: write CODE=pass or CODE=fail, optionally followed by :note")
    return lane_pb2.CheckItem(item_code=code, passed=outcome == "pass", note=note)


def _check(args: argparse.Namespace) -> int:
    items = [parse_item(text) for text in args.item]
    for item in items:
        item.reason = args.reason
    request = lane_pb2.SubmitChecksRequest(session_token=_token(args), record_id=args.record, items=items)
    reply = _call(args, lambda stub: stub.SubmitChecks(request, timeout=TIMEOUT_S))
    print(f"accepted {reply.accepted}; record holds {', '.join(reply.checked_items)}")
    return 0


def _chunks(header: lane_pb2.PhotoHeader, data: bytes) -> Iterator[lane_pb2.PhotoChunk]:
    yield lane_pb2.PhotoChunk(header=header)
    for start in range(0, len(data), CHUNK_BYTES):
        yield lane_pb2.PhotoChunk(data=data[start : start + CHUNK_BYTES])


def _photo(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as error:
        raise CommandError(f"{args.file}: {error}") from error
    header = lane_pb2.PhotoHeader(
        session_token=_token(args), record_id=args.record, item_code=args.item, content_type="image/jpeg"
    )
    reply = _call(args, lambda stub: stub.UploadPhoto(_chunks(header, data), timeout=TIMEOUT_S))
    print(reply.sha256)
    return 0


def _complete(args: argparse.Namespace) -> int:
    request = lane_pb2.CompleteRequest(session_token=_token(args), record_id=args.record)
    reply = _call(args, lambda stub: stub.Complete(request, timeout=TIMEOUT_S))
    print(f"{reply.record_id}\t{_outcome(reply.overall)}")
    for item in reply.failing:
        measured = ""
        if item.HasField("measured"):
            limit = f" (limit {item.limit:g}{item.unit})" if item.HasField("limit") else ""
            measured = f"\t{item.measured:g}{item.unit}{limit}"
        print(f"  {_outcome(item.outcome)}\t{item.code}{measured}\t{item.note}".rstrip())
    return 0


def _outcome(value: int) -> str:
    return inspection_pb2.Outcome.Name(value).removeprefix("OUTCOME_").lower()


def _state(value: int) -> str:
    return lane_pb2.LaneState.Name(value).removeprefix("LANE_STATE_").lower()


def _abort(args: argparse.Namespace) -> int:
    request = lane_pb2.AbortRequest(session_token=_token(args), record_id=args.record, reason=args.reason)
    reply = _call(args, lambda stub: stub.Abort(request, timeout=TIMEOUT_S))
    print(f"{reply.record_id}\t{_state(reply.state)}\t{reply.error}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    """Print each state the visit enters until it ends; exit 1 if it ended aborted."""
    request = lane_pb2.WatchVisitRequest(session_token=_token(args), record_id=args.record)
    last = lane_pb2.LANE_STATE_UNSPECIFIED

    def follow(stub: lane_pb2_grpc.LaneServiceStub) -> None:
        nonlocal last
        # No deadline: a visit may wait in VISUAL for its inspector as long as the lane keeps it.
        for change in stub.WatchVisit(request):
            at = change.at.ToDatetime(tzinfo=UTC).astimezone().strftime("%H:%M:%S")
            line = f"{at}\t{_state(change.state)}" + (f"\t{change.error}" if change.error else "")
            print(line, flush=True)
            last = change.state

    _call(args, follow)
    return 1 if last == lane_pb2.LANE_STATE_ABORTED else 0


def _status(args: argparse.Namespace) -> int:
    """One line per bench; exit status 3 while any bench is down (for scripts and monitoring)."""
    request = lane_pb2.GetLaneStatusRequest(session_token=_token(args), lane=args.lane)
    reply = _call(args, lambda stub: stub.GetLaneStatus(request, timeout=TIMEOUT_S))
    print(f"station {reply.station_id} lane {reply.lane}")
    for bench in reply.benches:
        since = bench.since.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")
        line = f"{bench.name}\t{'up' if bench.up else 'DOWN'}\tsince {since}\t{bench.kind}"
        print(line + ("" if bench.up or not bench.last_error else f"\terror={bench.last_error}"))
    return 0 if all(bench.up for bench in reply.benches) else 3

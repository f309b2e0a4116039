"""``tongjian label``: render a label as a PNG, verify one offline, refresh the offline trust
cache from hubs, revoke a label, apply for an exemption label at a hub, and record a vehicle's
standing (insurance, tax, violations, accidents) at its registration hub (docs/labels.md).

``verify`` needs no network: it reads the trust cache (``--cache``, default
``$TONGJIAN_LABEL_CACHE`` or ``tongjian-label-trust.json``) that ``sync`` wrote. It prints the
label's fields and either VALID or every reason it is not; exit status 0 valid, 1 not valid,
2 when it could not check at all (no cache, an unreadable picture).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tongjian.cli import CommandError
from tongjian.commands.hub import database_error, default_database_url, open_store

if TYPE_CHECKING:
    from elabel.trust_cache import TrustCache

CACHE_VARIABLE = "TONGJIAN_LABEL_CACHE"
DEFAULT_CACHE = "tongjian-label-trust.json"
SYNC_TIMEOUT_S = 10.0


def default_cache() -> Path:
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE)


def register(commands: argparse._SubParsersAction) -> None:
    label = commands.add_parser(
        "label", help="e-labels: render, verify offline, sync the trust cache, revoke"
    )
    actions = label.add_subparsers(dest="label_action", required=True)

    def with_database(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--database-url", help="the hub's database (default: as `tongjian hub`)")
        return parser

    render = with_database(actions.add_parser("render", help="write a label the hub issued as a PNG"))
    render.add_argument("serial")
    render.add_argument("--out", type=Path, required=True, help="the PNG file to write")
    render.set_defaults(handler=_render)

    verify = actions.add_parser("verify", help="check a label offline: a token, or a PNG with its QR code")
    verify.add_argument("label", help="the label text (TJ1:...) or a PNG/photo file holding its QR code")
    verify.add_argument("--vin", help="the VIN of the vehicle in front of you")
    verify.add_argument(
        "--cache", type=Path, help=f"trust cache (default ${CACHE_VARIABLE} or {DEFAULT_CACHE})"
    )
    verify.add_argument("--at", type=_aware_time, help="check as of this ISO time (default: now)")
    verify.set_defaults(handler=_verify)

    sync = actions.add_parser("sync", help="fetch hub label keys and revocation lists into the trust cache")
    sync.add_argument("--hub", action="append", required=True, help="a hub's HOST:PORT (repeatable)")
    sync.add_argument(
        "--cache", type=Path, help=f"trust cache (default ${CACHE_VARIABLE} or {DEFAULT_CACHE})"
    )
    sync.add_argument("--ca", type=Path, help="CA that signs hub certificates (PEM)")
    sync.add_argument("--cert", type=Path, help="your client certificate (PEM)")
    sync.add_argument("--key", type=Path, help="your client key (PEM)")
    sync.add_argument("--insecure", action="store_true", help="plaintext (tests, demos)")
    sync.add_argument(
        "--national-key",
        type=Path,
        help="the national trust-list public key (PEM): take the hubs' keys from the signed national trust "
        "list the hub hands out, not on the hub's word",
    )
    sync.set_defaults(handler=_sync)

    apply = actions.add_parser("apply", help="apply for an exemption label (免检) at a hub of any province")
    apply.add_argument("--vin", required=True)
    apply.add_argument(
        "--plate", required=True, help="the plate; its first character names the registration province"
    )
    apply.add_argument("--date", help="application date YYYY-MM-DD (default: today at the hub)")
    apply.add_argument("--hub", required=True, help="the hub's HOST:PORT")
    apply.add_argument("--ca", type=Path, help="CA that signs hub certificates (PEM)")
    apply.add_argument("--cert", type=Path, help="your client certificate (PEM, role person)")
    apply.add_argument("--key", type=Path, help="your client key (PEM)")
    apply.add_argument("--insecure", action="store_true", help="plaintext (tests, demos)")
    apply.set_defaults(handler=_apply)

    standing = with_database(
        actions.add_parser(
            "standing", help="record a registered vehicle's standing for exemption (at its hub)"
        )
    )
    standing.add_argument("vin")
    standing.add_argument("--insurance-until", type=_day, help="compulsory insurance valid until YYYY-MM-DD")
    standing.add_argument("--tax-paid", action="store_true", help="vehicle tax is paid")
    standing.add_argument("--violations", type=_count, default=0, help="unresolved violations (default 0)")
    standing.add_argument("--accidents", type=_count, default=0, help="unresolved accidents (default 0)")
    standing.add_argument(
        "--casualty-accident", action="store_true", help="ever in an accident with casualties"
    )
    standing.set_defaults(handler=_standing)

    revoke = with_database(actions.add_parser("revoke", help="revoke a label this hub issued"))
    revoke.add_argument("serial")
    revoke.add_argument("--reason", required=True)
    revoke.set_defaults(handler=_revoke)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _aware_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add +08:00 or Z)")
    return moment


def _render(args: argparse.Namespace) -> int:
    from elabel.picture import render_label
    from hub.label_book import LabelRegistry

    url = args.database_url or default_database_url()
    store = open_store(url)
    try:
        label = LabelRegistry(store.database).get(args.serial)
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    if label is None:
        raise CommandError(f"no label with serial {args.serial!r} in this hub's database")
    rendered = render_label(label.token, label.claims)
    try:
        args.out.write_bytes(rendered.png)
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write ({error.strerror})") from error
    font = "CJK font" if rendered.cjk_font else "no CJK font on this machine: English captions"
    print(f"label {args.serial} written to {args.out} ({font}: {rendered.font})")
    if label.revoked_at is not None:
        print(f"note: this label was revoked {label.revoked_at.isoformat()} ({label.revoked_reason})")
    return 0


def _label_text(argument: str) -> str:
    from elabel.errors import PictureError
    from elabel.label_text import PREFIX
    from elabel.picture import token_from_png

    if argument.strip().startswith(PREFIX):
        return argument
    path = Path(argument)
    if not path.exists():
        raise CommandError(f"{argument!r} is neither a label text ({PREFIX}...) nor an existing picture file")
    try:
        return token_from_png(path)
    except PictureError as error:
        raise CommandError(str(error)) from error


def _load_cache(path: Path) -> TrustCache:
    from elabel.errors import TrustCacheError
    from elabel.trust_cache import load_trust_cache

    try:
        return load_trust_cache(path)
    except TrustCacheError as error:
        raise CommandError(str(error)) from error


def _verify(args: argparse.Namespace) -> int:
    from elabel.verifier import check_label

    text = _label_text(args.label)
    cache_path = args.cache or default_cache()
    cache = _load_cache(cache_path)
    now = args.at or datetime.now(UTC)
    check = check_label(text, cache, now, args.vin)
    claims = check.claims
    if claims is not None:
        print(f"label    {claims.serial} ({claims.label_type.value}), issued by hub {claims.issuer_province}")
        print(f"vehicle  {claims.vin}  {claims.plate}  class {claims.vehicle_class.value}")
        print(f"valid    {claims.valid_from.isoformat()} .. {claims.valid_until.isoformat()} (China time)")
    for note in check.notes:
        print(f"note     {note}")
    synced = cache.synced_at.isoformat(timespec="seconds") if cache.synced_at else "never"
    if check.valid:
        print(f"VALID    (checked {now.isoformat(timespec='seconds')} against {cache_path}, synced {synced})")
        return 0
    for problem in check.problems:
        print(f"INVALID  {problem.fault.value}: {problem.detail}")
    return 1


def _channel(args: argparse.Namespace, address: str):  # type: ignore[no-untyped-def]
    import grpc

    from pki.grpc_credentials import PkiError, channel_credentials, server_only_channel_credentials

    if args.insecure:
        return grpc.insecure_channel(address)
    if args.ca is None:
        raise CommandError(
            "give --ca (and --cert/--key for a hub that asks for a client certificate), or --insecure"
        )
    if (args.cert is None) != (args.key is None):
        raise CommandError("--cert and --key go together")
    try:
        credentials = (
            channel_credentials(args.ca, args.cert, args.key)
            if args.cert is not None
            else server_only_channel_credentials(args.ca)
        )
    except PkiError as error:
        raise CommandError(str(error)) from error
    return grpc.secure_channel(address, credentials)


def _sync(args: argparse.Namespace) -> int:
    import grpc

    from elabel.errors import RevocationListInvalid
    from elabel.revocation import read_revocation_list
    from elabel.trust_cache import HubKey, TrustCache, save_trust_cache
    from protos.tongjian.v1 import labels_pb2, labels_pb2_grpc

    cache_path: Path = args.cache or default_cache()
    old = _load_cache(cache_path) if cache_path.exists() else TrustCache(())
    keys: dict[bytes, HubKey] = {k.public_key: k for k in old.hub_keys}
    lists = dict(old.signed_revocation_lists)
    fetched: list[tuple[str, str, bytes]] = []  # (address, province, signed list)
    national_key = _national_key(args.national_key) if args.national_key is not None else None
    for address in args.hub:
        with _channel(args, address) as channel:
            stub = labels_pb2_grpc.LabelsStub(channel)
            try:
                answer = stub.GetLabelKeys(labels_pb2.LabelKeysRequest(), timeout=SYNC_TIMEOUT_S)
                listing = stub.GetRevocationList(labels_pb2.RevocationListRequest(), timeout=SYNC_TIMEOUT_S)
            except grpc.RpcError as error:
                code = error.code().name if hasattr(error, "code") else "error"
                details = error.details() if hasattr(error, "details") else str(error)
                raise CommandError(f"hub {address}: {code}: {details}") from error
        if national_key is not None:
            for province, public_key in _keys_from_trust_list(address, answer.trust_list, national_key):
                keys[public_key] = HubKey(province, public_key)
        else:
            for key in answer.keys:
                if len(key.public_key) != 32:
                    raise CommandError(f"hub {address}: key of province {key.province!r} is not 32 bytes")
                keys[key.public_key] = HubKey(key.province, key.public_key)
        fetched.append((address, listing.province, listing.cose))
    merged = TrustCache(tuple(keys.values()), lists)
    for address, province, cose in fetched:
        candidates = [k for k in merged.hub_keys if k.province == province]
        newest = None
        for key in candidates:
            try:
                newest = read_revocation_list(cose, province, key.public_key)
                break
            except RevocationListInvalid:
                continue
        if newest is None:
            raise CommandError(f"hub {address}: its revocation list is not signed by a key of hub {province}")
        current = merged.revocation_list(province) if province in lists else None
        if current is None or newest.as_of >= current.as_of:
            lists[province] = cose
        print(
            f"hub {address}: province {province}, {len(newest.revocations)} revoked, as of {newest.as_of.isoformat()}"
        )
    result = TrustCache(tuple(keys.values()), lists, datetime.now(UTC))
    try:
        save_trust_cache(result, cache_path)
    except OSError as error:
        raise CommandError(f"{cache_path}: cannot write ({error.strerror})") from error
    provinces = ", ".join(sorted({k.province for k in result.hub_keys}))
    print(
        f"trust cache {cache_path}: {len(result.hub_keys)} hub keys ({provinces}), {len(lists)} revocation lists"
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from hub.errors import UnknownLabel
    from hub.label_book import LabelRegistry

    url = args.database_url or default_database_url()
    store = open_store(url)
    try:
        label = LabelRegistry(store.database).revoke_label(args.serial, args.reason)
    except UnknownLabel as error:
        raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    assert label.revoked_at is not None
    print(
        f"label {args.serial} revoked {label.revoked_at.isoformat()} ({label.revoked_reason})",
        file=sys.stdout,
    )
    return 0


def _apply(args: argparse.Namespace) -> int:
    import grpc

    from protos.tongjian.v1 import labels_pb2, labels_pb2_grpc

    request = labels_pb2.ExemptionApplication(
        vin=args.vin, plate=args.plate, application_date=args.date or ""
    )
    with _channel(args, args.hub) as channel:
        try:
            reply = labels_pb2_grpc.LabelsStub(channel).ApplyExemption(request, timeout=SYNC_TIMEOUT_S)
        except grpc.RpcError as error:
            code = error.code().name if hasattr(error, "code") else "error"
            details = error.details() if hasattr(error, "details") else str(error)
            raise CommandError(f"hub {args.hub}: {code}: {details}") from error
    if not reply.granted:
        print(f"REFUSED  ({reply.regime}): {', '.join(reply.refusal_reasons)}")
        return 1
    print(f"GRANTED  ({reply.regime}) label {reply.serial} of hub {reply.issuer_province}")
    print(f"valid    {reply.valid_from} .. {reply.valid_until}")
    print(reply.token)
    return 0


def _standing(args: argparse.Namespace) -> int:
    from hub.errors import UnknownVehicle
    from hub.vehicle_standing import Standing, StandingBook

    url = args.database_url or default_database_url()
    store = open_store(url)
    vin = args.vin.strip().upper()
    try:
        if not store.vehicles.knows(vin):
            raise CommandError(str(UnknownVehicle(vin)))
        standing = Standing(
            args.insurance_until, args.tax_paid, args.violations, args.accidents, args.casualty_accident
        )
        StandingBook(store.database).set(vin, standing)
    except SQLAlchemyError as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    print(f"vehicle {vin}: standing recorded")
    return 0


def _national_key(path: Path) -> Any:
    from protos.envelope import InvalidKey, load_public_key

    try:
        return load_public_key(path.read_bytes())
    except OSError as error:
        raise CommandError(f"--national-key {path}: {error.strerror or error}") from error
    except InvalidKey as error:
        raise CommandError(f"--national-key {path}: {error}") from error


def _keys_from_trust_list(address: str, raw: bytes, national_key: Any) -> list[tuple[str, bytes]]:
    """The hub keys of the signed national trust list a hub handed out, checked with the national key."""
    from datetime import UTC, datetime

    from hub.errors import HubError
    from hub.trust_list import read_trust_list
    from protos.envelope import raw_public_key
    from protos.errors import ProtosError
    from protos.signed_document import parse_document

    if not raw:
        raise CommandError(f"hub {address}: hands out no national trust list (a hub outside the federation)")
    try:
        trust = read_trust_list(parse_document(raw, "national trust list"), national_key, datetime.now(UTC))
    except (HubError, ProtosError) as error:
        raise CommandError(f"hub {address}: its national trust list does not verify: {error}") from error
    return [(entry.province, raw_public_key(entry.hub_public_key)) for entry in trust.provinces.values()]

"""``tongjian hub audit``: verify the audit log, sign checkpoints of it, and prove entries and growth.

``verify``       walks the chain and the RFC 9162 tree, checks every stored checkpoint (its
                 signature too, given the hub's key) and names the first entry edited, removed
                 or reordered; exit 1 when anything is wrong.
``checkpoint``   signs the tree of the log as it is now (if it grew) with the hub's key.
``prove SEQ``    the inclusion proof of entry SEQ against the newest checkpoint (or ``--size``).
``consistency OLD NEW``  the consistency proof between two checkpoints, checked against both.
``witnesses``    the newest checkpoint of each peer province's log this hub holds, and alarms;
                 exit 1 if any peer is under alarm.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tongjian.cli import CommandError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from hub.store import HubStore

WithDatabase = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


def register(actions: argparse._SubParsersAction, with_database: WithDatabase) -> None:
    audit = actions.add_parser("audit", help="the audit log: verify, checkpoint, prove").add_subparsers(
        dest="audit_action", required=True
    )

    def signer_options(parser: argparse.ArgumentParser, required: bool) -> argparse.ArgumentParser:
        parser.add_argument(
            "--key",
            type=Path,
            required=required,
            help="the hub's Ed25519 signing key (PEM)"
            + ("" if required else ": also check checkpoint signatures"),
        )
        parser.add_argument("--province", default="50", help="the hub's GB/T 2260 province code (default 50)")
        return parser

    verify = signer_options(
        with_database(
            audit.add_parser("verify", help="check the chain, the Merkle tree and every checkpoint")
        ),
        required=False,
    )
    verify.add_argument("--public-key", type=Path, help="the hub's public key (PEM), instead of --key")
    verify.set_defaults(handler=_verify)

    checkpoint = signer_options(
        with_database(audit.add_parser("checkpoint", help="sign a checkpoint of the log, if it grew")),
        required=True,
    )
    checkpoint.set_defaults(handler=_checkpoint)

    prove = with_database(audit.add_parser("prove", help="inclusion proof of one entry"))
    prove.add_argument("seq", type=int, metavar="SEQ", help="the entry's seq")
    prove.add_argument("--size", type=int, help="a checkpoint's tree size (default: the newest checkpoint)")
    prove.add_argument("--json", action="store_true", help="print JSON")
    prove.set_defaults(handler=_prove)

    consistency = with_database(
        audit.add_parser("consistency", help="consistency proof between two checkpoints")
    )
    consistency.add_argument("old", type=int, metavar="OLD", help="the older checkpoint's tree size")
    consistency.add_argument("new", type=int, metavar="NEW", help="the newer checkpoint's tree size")
    consistency.add_argument("--json", action="store_true", help="print JSON")
    consistency.set_defaults(handler=_consistency)

    witnesses = with_database(
        audit.add_parser("witnesses", help="the peers' audit checkpoints this hub holds, and alarms")
    )
    witnesses.add_argument("--json", action="store_true", help="print JSON")
    witnesses.set_defaults(handler=_witnesses)


def _open(args: argparse.Namespace) -> HubStore:
    from tongjian.commands.hub import default_database_url, open_store

    return open_store(args.database_url or default_database_url())


def _database_error(args: argparse.Namespace, error: SQLAlchemyError) -> CommandError:
    from tongjian.commands.hub import database_error, default_database_url

    return database_error(args.database_url or default_database_url(), error)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{what} {path}: {error.strerror or error}") from error


def _private_key(path: Path) -> Ed25519PrivateKey:
    from protos.envelope import InvalidKey, load_private_key

    try:
        return load_private_key(_read(path, "--key"))
    except InvalidKey as error:
        raise CommandError(f"--key {path}: {error}") from error


def _public_key(path: Path) -> Ed25519PublicKey:
    from protos.envelope import InvalidKey, load_public_key

    try:
        return load_public_key(_read(path, "--public-key"))
    except InvalidKey as error:
        raise CommandError(f"--public-key {path}: {error}") from error


def _province(text: str) -> str:
    from inspection import PROVINCES

    if text not in set(PROVINCES.values()):
        raise CommandError(f"--province {text!r}: not a GB/T 2260 province code (e.g. 50, 51)")
    return text


def _signer(province: str) -> str:
    from hub.trust_list import hub_signer

    return hub_signer(province)


def _verify(args: argparse.Namespace) -> int:
    if args.key is not None and args.public_key is not None:
        raise CommandError("give --key or --public-key, not both")
    province = _province(args.province)
    public = (
        _private_key(args.key).public_key()
        if args.key is not None
        else _public_key(args.public_key)
        if args.public_key is not None
        else None
    )
    checkpoint_key = (_signer(province), public) if public is not None else None
    store = _open(args)
    try:
        check = store.audit.verify(checkpoint_key)
        head_seq, head_hash = store.audit_head_hash()
        latest = store.audit_tree.latest()
    except SQLAlchemyError as error:
        raise _database_error(args, error) from error
    finally:
        store.dispose()
    if not check.ok:
        where = f"seq {check.first_bad_seq}" if check.first_bad_seq is not None else "a checkpoint"
        print(f"audit log BROKEN at {where} ({check.kind}): {check.problem} ({check.rows_checked} rows read)")
        for problem in check.record_problems:
            print(f"  {problem}")
        return 1
    signatures = "signatures checked" if public is not None else "signatures NOT checked (no --key)"
    newest = (
        f"newest checkpoint size {latest.size} root {latest.root.hex()}"
        if latest is not None
        else "no checkpoints"
    )
    print(
        f"audit log ok: {check.rows_checked} rows, {check.records_checked} records match it, "
        f"{check.checkpoints_checked} checkpoints hold ({signatures}); {newest}; head seq {head_seq} hash {head_hash}"
    )
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from hub.audit_checkpoint import CheckpointKey, note_text
    from hub.audit_tree import AuditTreeError

    key = CheckpointKey(_signer(_province(args.province)), _private_key(args.key))
    store = _open(args)
    try:
        written = store.audit_tree.write_checkpoint(key, datetime.now(UTC))
        shown = written if written is not None else store.audit_tree.latest()
    except AuditTreeError as error:
        raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_error(args, error) from error
    finally:
        store.dispose()
    if shown is None:
        print("the audit log is empty: no checkpoint")
        return 0
    print(
        f"checkpoint of size {shown.size} written"
        if written is not None
        else f"no new entries since checkpoint {shown.size}; the newest checkpoint:"
    )
    print(note_text(shown.signed, key.signer, key.private_key.public_key()), end="")
    return 0


def _checkpoint_at(store: HubStore, size: int | None) -> Any:
    checkpoint = store.audit_tree.latest() if size is None else store.audit_tree.at_size(size)
    if checkpoint is None:
        raise CommandError(
            "no audit checkpoint yet (tongjian hub audit checkpoint)"
            if size is None
            else f"no audit checkpoint of size {size} (tongjian hub audit verify lists them)"
        )
    return checkpoint


def _prove(args: argparse.Namespace) -> int:
    from hub.audit_tree import AuditTreeError, proof_hex
    from hub.merkle import MerkleProofError, leaf_hash, verify_inclusion

    store = _open(args)
    try:
        checkpoint = _checkpoint_at(store, args.size)
        proof = store.audit_tree.inclusion(args.seq, checkpoint.size)
    except AuditTreeError as error:
        raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_error(args, error) from error
    finally:
        store.dispose()
    digest = leaf_hash(proof.leaf)
    try:
        verify_inclusion(args.seq - 1, checkpoint.size, digest, proof.path, checkpoint.root)
        verdict = "verifies against the signed checkpoint"
        status = 0
    except MerkleProofError as error:
        verdict = f"DOES NOT VERIFY against the signed checkpoint: {error}"
        status = 1
    if args.json:
        print(
            json.dumps(
                {
                    "seq": proof.seq,
                    "leaf_index": proof.seq - 1,
                    "tree_size": checkpoint.size,
                    "leaf": proof.leaf.decode("utf-8"),
                    "leaf_hash": digest.hex(),
                    "inclusion_path": proof_hex(proof.path),
                    "root": checkpoint.root.hex(),
                    "checkpoint": checkpoint.signed.body.decode("utf-8"),
                    "checkpoint_key_id": checkpoint.signed.key_id,
                    "checkpoint_signature": base64.b64encode(checkpoint.signed.signature).decode("ascii"),
                    "verified": status == 0,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(
            f"entry {proof.seq} in the tree of {checkpoint.size} entries (checkpoint signed {checkpoint.signed_at.isoformat()})"
        )
        print(f"  leaf       {proof.leaf.decode('utf-8')}")
        print(f"  leaf hash  {digest.hex()}")
        for level, node in enumerate(proof.path):
            print(f"  path[{level}]    {node.hex()}")
        print(f"  root       {checkpoint.root.hex()}")
        print(f"  {verdict}")
    return status


def _consistency(args: argparse.Namespace) -> int:
    from hub.audit_tree import AuditTreeError, proof_hex
    from hub.merkle import MerkleProofError, verify_consistency

    if args.old > args.new:
        raise CommandError(f"OLD {args.old} is larger than NEW {args.new}")
    store = _open(args)
    try:
        old = _checkpoint_at(store, args.old)
        new = _checkpoint_at(store, args.new)
        _old_root, _new_root, proof = store.audit_tree.consistency(args.old, args.new)
    except AuditTreeError as error:
        raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_error(args, error) from error
    finally:
        store.dispose()
    try:
        verify_consistency(old.size, new.size, old.root, new.root, proof)
        verdict, status = "consistent: the older checkpoint's tree is a prefix of the newer one's", 0
    except MerkleProofError as error:
        verdict, status = f"INCONSISTENT: {error}", 1
    if args.json:
        print(
            json.dumps(
                {
                    "old_size": old.size,
                    "new_size": new.size,
                    "old_root": old.root.hex(),
                    "new_root": new.root.hex(),
                    "consistency_path": proof_hex(proof),
                    "verified": status == 0,
                },
                indent=2,
            )
        )
    else:
        print(f"checkpoint {old.size} -> {new.size}")
        print(f"  old root   {old.root.hex()}")
        print(f"  new root   {new.root.hex()}")
        for level, node in enumerate(proof):
            print(f"  path[{level}]    {node.hex()}")
        print(f"  {verdict}")
    return status


def _witnesses(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        held = store.peer_checkpoints.all()
    except SQLAlchemyError as error:
        raise _database_error(args, error) from error
    finally:
        store.dispose()
    rows = [
        {
            "province": h.province,
            "tree_size": h.size,
            "root": h.root.hex(),
            "signed_at": h.signed_at.isoformat(),
            "received_at": h.received_at.isoformat(),
            "key_id": h.signed.key_id,
            "alarm_at": h.alarm_at.isoformat() if h.alarm_at is not None else None,
            "alarm": h.alarm,
            "refused_checkpoint": h.refused.body.decode("utf-8", "replace")
            if h.refused is not None
            else None,
        }
        for h in held
    ]
    if args.json:
        print(json.dumps({"witnessed": rows}, ensure_ascii=False, indent=2))
    elif not rows:
        print("no peer checkpoints held")
    else:
        for row in rows:
            print(
                f"province {row['province']}: size {row['tree_size']} root {row['root']} "
                f"(signed {row['signed_at']}, received {row['received_at']})"
            )
            if row["alarm"] is not None:
                print(f"  ALARM since {row['alarm_at']}: {row['alarm']}")
    return 1 if any(row["alarm"] is not None for row in rows) else 0

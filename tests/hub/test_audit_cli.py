"""``tongjian hub audit checkpoint | prove | consistency | verify`` on a SQLite file: the proofs it
prints verify on their own (hub.merkle, from the JSON alone), and a forged log is named."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import create_engine, text

from hub.audit_checkpoint import SignedCheckpoint, verify_checkpoint
from hub.merkle import leaf_hash, verify_consistency, verify_inclusion
from hub.store import AuditEntry, HubStore
from tests.hub.audit_rig import rechain
from tongjian.cli import main

T0 = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def _append(url: str, count: int, start: int) -> None:
    store = HubStore(url)
    try:
        store.append_audit(
            [
                AuditEntry("note", f"event {n}", at=T0 + timedelta(seconds=n))
                for n in range(start, start + count)
            ]
        )
    finally:
        store.dispose()


@pytest.fixture
def hub(tmp_path: Path) -> tuple[str, Path, Ed25519PrivateKey]:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "hub-key.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return url, path, key


def test_checkpoint_prove_consistency_verify(hub: tuple[str, Path, Ed25519PrivateKey], capsys) -> None:  # type: ignore[no-untyped-def]
    url, key_path, key = hub
    db = ["--database-url", url]
    assert main(["hub", "audit", "prove", "1", *db]) == 2
    assert "no audit checkpoint yet" in capsys.readouterr().err
    _append(url, 5, 0)
    assert main(["hub", "audit", "checkpoint", "--key", str(key_path), *db]) == 0
    out = capsys.readouterr().out
    assert out.startswith("checkpoint of size 5 written\ntongjian/hub-50/audit-log\n5\n")
    assert "\n\n\u2014 hub-50 " in out
    assert main(["hub", "audit", "checkpoint", "--key", str(key_path), *db]) == 0
    assert "no new entries since checkpoint 5" in capsys.readouterr().out
    _append(url, 6, 5)
    assert main(["hub", "audit", "checkpoint", "--key", str(key_path), *db]) == 0
    capsys.readouterr()

    assert main(["hub", "audit", "prove", "4", "--json", *db]) == 0
    proof = json.loads(capsys.readouterr().out)
    # Everything a third party needs is in the JSON: check the checkpoint's signature, then the path.
    signed = SignedCheckpoint(
        proof["checkpoint"].encode(),
        proof["checkpoint_key_id"],
        base64.b64decode(proof["checkpoint_signature"]),
    )
    checkpoint = verify_checkpoint(signed, key.public_key(), "hub-50")
    assert (checkpoint.size, proof["tree_size"]) == (11, 11)
    verify_inclusion(
        proof["leaf_index"],
        proof["tree_size"],
        leaf_hash(proof["leaf"].encode()),
        [bytes.fromhex(node) for node in proof["inclusion_path"]],
        checkpoint.root,
    )
    assert '"event 3"' in proof["leaf"]
    assert main(["hub", "audit", "prove", "2", "--size", "5", *db]) == 0
    assert "verifies against the signed checkpoint" in capsys.readouterr().out

    assert main(["hub", "audit", "consistency", "5", "11", "--json", *db]) == 0
    answer = json.loads(capsys.readouterr().out)
    verify_consistency(
        5,
        11,
        bytes.fromhex(answer["old_root"]),
        bytes.fromhex(answer["new_root"]),
        [bytes.fromhex(node) for node in answer["consistency_path"]],
    )
    assert main(["hub", "audit", "consistency", "5", "11", *db]) == 0
    assert "consistent" in capsys.readouterr().out

    assert main(["hub", "audit", "verify", "--key", str(key_path), *db]) == 0
    assert "11 rows, 0 records match it, 2 checkpoints hold (signatures checked)" in capsys.readouterr().out

    # A forger edits entry 7 and recomputes the chain: the chain is whole, the checkpoint is not.
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_events SET detail = 'nothing' WHERE seq = 7"))
        rechain(engine, 7)
    finally:
        engine.dispose()
    assert main(["hub", "audit", "verify", *db]) == 1
    assert "BROKEN at seq 6 (tail rewritten): tail rewritten after checkpoint 5" in capsys.readouterr().out
    assert main(["hub", "audit", "consistency", "5", "11", *db]) == 1
    assert "INCONSISTENT" in capsys.readouterr().out
    assert main(["hub", "audit", "prove", "7", *db]) == 1
    assert "DOES NOT VERIFY" in capsys.readouterr().out
    # The hub's next checkpoint extends the tree it signed before (from its frontier), not the
    # rewritten rows: its signed history stays honest, and verify still names the rewrite.
    _append(url, 1, 11)
    assert main(["hub", "audit", "checkpoint", "--key", str(key_path), *db]) == 0
    assert "checkpoint of size 12 written" in capsys.readouterr().out
    assert main(["hub", "audit", "verify", "--key", str(key_path), *db]) == 1
    assert "(tail rewritten)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prove", "99"], "not among the first"),
        (["prove", "1", "--size", "4"], "no audit checkpoint of size 4"),
        (["consistency", "3", "2"], "OLD 3 is larger than NEW 2"),
        (["consistency", "2", "3"], "no audit checkpoint of size 2"),
        (["checkpoint", "--key", "/nonexistent.pem"], "--key /nonexistent.pem"),
        (["verify", "--public-key", "/nonexistent.pem"], "--public-key /nonexistent.pem"),
        (["checkpoint", "--key", "KEY", "--province", "99"], "--province '99'"),
    ],
)
def test_bad_arguments_are_one_line(
    hub: tuple[str, Path, Ed25519PrivateKey], argv: list[str], message: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    url, key_path, _key = hub
    _append(url, 3, 0)
    assert main(["hub", "audit", "checkpoint", "--key", str(key_path), "--database-url", url]) == 0
    capsys.readouterr()
    argv = [str(key_path) if part == "KEY" else part for part in argv]
    assert main(["hub", "audit", *argv, "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

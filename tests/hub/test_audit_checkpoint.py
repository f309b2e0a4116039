"""The signed checkpoint format: round trip, strict parsing (every wrong input a CheckpointInvalid
naming the line), signatures, and the C2SP signed-note rendering."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from hub.audit_checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    CheckpointKey,
    SignedCheckpoint,
    note_text,
    parse_checkpoint,
    verify_checkpoint,
)

AT = datetime(2026, 11, 30, 4, 30, 5, tzinfo=UTC)
ROOT = hashlib.sha256(b"root").digest()


def test_the_body_is_four_lines_and_reads_back() -> None:
    checkpoint = Checkpoint("tongjian/hub-50/audit-log", 1234, ROOT, AT)
    body = checkpoint.body()
    assert body == (
        b"tongjian/hub-50/audit-log\n1234\n" + base64.b64encode(ROOT) + b"\ntime 2026-11-30T04:30:05Z\n"
    )
    assert parse_checkpoint(body) == checkpoint


@given(
    st.from_regex(r"[!-~][ -~]{0,38}[!-~]|[!-~]", fullmatch=True),
    st.integers(0, 2**63 - 1),
    st.binary(min_size=32, max_size=32),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    ),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root: bytes, at: datetime) -> None:
    checkpoint = Checkpoint(origin, size, root, at)
    assert parse_checkpoint(checkpoint.body()) == checkpoint


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_named_invalid(data: bytes) -> None:
    try:
        parse_checkpoint(data)
    except CheckpointInvalid as error:
        assert str(error).startswith("checkpoint")


@given(st.data())
def test_any_changed_byte_of_a_signed_checkpoint_fails(data: st.DataObject) -> None:
    key = CheckpointKey("hub-50", Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
    signed = key.sign(77, ROOT, AT)
    body = bytearray(signed.body)
    at = data.draw(st.integers(0, len(body) - 1))
    body[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CheckpointInvalid):
        verify_checkpoint(
            SignedCheckpoint(bytes(body), signed.key_id, signed.signature),
            key.private_key.public_key(),
            "hub-50",
        )


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b"o\n12\n" + base64.b64encode(ROOT) + b"\n", "not 4"),
        (b"o\n012\n" + base64.b64encode(ROOT) + b"\ntime 2026-11-30T04:30:05Z\n", "line 2"),
        (b"o\n12\n" + base64.b64encode(ROOT[:31]) + b"\ntime 2026-11-30T04:30:05Z\n", "line 3"),
        (b"o\n12\n" + b"!!" + b"\ntime 2026-11-30T04:30:05Z\n", "line 3"),
        (b"o\n12\n" + base64.b64encode(ROOT) + b"\ntime 2026-13-30T04:30:05Z\n", "line 4"),
        (b"o\n12\n" + base64.b64encode(ROOT) + b"\ntime 2026-11-30 04:30:05\n", "line 4"),
        (b" o\n12\n" + base64.b64encode(ROOT) + b"\ntime 2026-11-30T04:30:05Z\n", "line 1"),
        (b"o\n12\n" + base64.b64encode(ROOT) + b"\ntime 2026-11-30T04:30:05Z", "newline"),
        (b"\xff\n", "UTF-8"),
    ],
)
def test_a_wrong_body_names_its_line(body: bytes, line: str) -> None:
    with pytest.raises(CheckpointInvalid, match=line):
        parse_checkpoint(body)


def test_signature_key_and_origin_are_checked() -> None:
    key = CheckpointKey("hub-50", Ed25519PrivateKey.generate())
    signed = key.sign(3, ROOT, AT)
    public = key.private_key.public_key()
    assert verify_checkpoint(signed, public, "hub-50").size == 3
    with pytest.raises(CheckpointInvalid, match="signed by key"):
        verify_checkpoint(signed, Ed25519PrivateKey.generate().public_key(), "hub-50")
    with pytest.raises(CheckpointInvalid, match="does not verify"):
        verify_checkpoint(SignedCheckpoint(signed.body, signed.key_id, b"\x00" * 64), public, "hub-50")
    other = CheckpointKey("hub-51", key.private_key).sign(3, ROOT, AT)
    with pytest.raises(CheckpointInvalid, match="signed by key"):
        verify_checkpoint(other, public, "hub-50")


def test_the_note_carries_the_c2sp_key_hash_and_signature() -> None:
    key = CheckpointKey("hub-50", Ed25519PrivateKey.generate())
    signed = key.sign(3, ROOT, AT)
    public = key.private_key.public_key()
    text = note_text(signed, "hub-50", public)
    body, _, signature_line = text.partition("\n\n")
    assert body.encode() + b"\n" == signed.body
    dash, name, stamp = signature_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "hub-50")
    raw = base64.b64decode(stamp)
    expected_hash = hashlib.sha256(
        b"hub-50\n\x01" + public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).digest()[:4]
    assert raw[:4] == expected_hash
    public.verify(raw[4:], signed.body)

"""The SignedDocument envelope: a seal that holds for its key and body only, and parsing that
fails only with the contract's typed errors."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from protos.envelope import key_id_of
from protos.errors import ProtosError
from protos.signed_document import (
    DocumentSignatureInvalid,
    MalformedDocument,
    parse_document,
    sign_document,
    verify_document,
)
from protos.tongjian.v1 import federation_pb2

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
BODY = b"\x08\x07 a trust list, say"


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_a_signed_document_verifies_and_returns_its_exact_body() -> None:
    document = sign_document(BODY, "hub-50", KEY)
    assert document.key_id == key_id_of("hub-50", KEY.public_key())
    assert document.key_id.startswith("hub-50/") and len(document.key_id) == len("hub-50/") + 16
    assert verify_document(document, KEY.public_key(), "test document") == BODY
    assert verify_document(document, KEY.public_key(), "test document", signer="hub-50") == BODY
    again = parse_document(document.SerializeToString(), "test document")
    assert verify_document(again, KEY.public_key(), "test document") == BODY


@pytest.mark.parametrize("index", [0, len(BODY) // 2, len(BODY) - 1])
def test_one_byte_changed_in_the_body_is_refused(index: int) -> None:
    document = sign_document(BODY, "national", KEY)
    document.body = _flip(document.body, index)
    with pytest.raises(
        DocumentSignatureInvalid, match=r"trust list signed by 'national/.*signature does not match"
    ):
        verify_document(document, KEY.public_key(), "trust list")


@pytest.mark.parametrize("index", [0, 31, 63])
def test_one_byte_changed_in_the_signature_is_refused(index: int) -> None:
    document = sign_document(BODY, "national", KEY)
    document.signature = _flip(document.signature, index)
    with pytest.raises(DocumentSignatureInvalid) as caught:
        verify_document(document, KEY.public_key(), "trust list")
    assert caught.value.what == "trust list" and caught.value.key_id == document.key_id


def test_a_key_id_that_names_another_key_is_refused_even_with_a_good_signature() -> None:
    document = sign_document(BODY, "hub-50", KEY)
    document.key_id = document.key_id[:-1] + ("0" if document.key_id[-1] != "0" else "1")
    with pytest.raises(DocumentSignatureInvalid, match="does not name the trusted key"):
        verify_document(document, KEY.public_key(), "directory")
    document.key_id = "no-slash-at-all"
    with pytest.raises(DocumentSignatureInvalid, match="no-slash-at-all"):
        verify_document(document, KEY.public_key(), "directory")


def test_a_document_signed_by_another_key_is_refused_naming_both() -> None:
    document = sign_document(BODY, "hub-51", OTHER)
    with pytest.raises(DocumentSignatureInvalid) as caught:
        verify_document(document, KEY.public_key(), "directory of 50")
    assert "directory of 50" in str(caught.value)
    assert key_id_of("", KEY.public_key())[1:] in str(caught.value)  # the fingerprint it wanted
    assert caught.value.key_id == document.key_id


def test_the_signer_named_must_match_when_asked_for() -> None:
    document = sign_document(BODY, "hub-51", KEY)
    with pytest.raises(DocumentSignatureInvalid, match="signer 'national'"):
        verify_document(document, KEY.public_key(), "trust list", signer="national")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xff\xff", "does not decode|Error parsing|Truncated|wire"),
        (b"", "no key id or no signature"),
        (
            federation_pb2.SignedDocument(body=b"x", key_id="a/b").SerializeToString(),
            "no key id or no signature",
        ),
    ],
)
def test_bytes_that_are_not_a_document_raise_malformed_document(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedDocument, match=reason) as caught:
        parse_document(raw, "trust list file")
    assert "trust list file" in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_as_a_document_raise_only_typed_errors(raw: bytes) -> None:
    try:
        document = parse_document(raw, "fuzz")
        verify_document(document, KEY.public_key(), "fuzz")
    except ProtosError:
        pass


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=256), key_id=st.text(max_size=40), signature=st.binary(max_size=80))
def test_arbitrary_fields_never_verify_and_raise_only_the_typed_error(
    body: bytes, key_id: str, signature: bytes
) -> None:
    document = federation_pb2.SignedDocument(body=body, key_id=key_id, signature=signature)
    with pytest.raises(DocumentSignatureInvalid):
        verify_document(document, KEY.public_key(), "fuzz")

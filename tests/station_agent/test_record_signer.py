"""Sealing records: the canonical bytes, signed with the key ``tongjian keys new`` wrote."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protos.envelope import InvalidKey, load_public_key, signature_valid
from protos.record_mapping import record_from_bytes, record_to_bytes
from station_agent.record_signer import ForeignRecord, RecordSigner


def test_seal_signs_the_canonical_bytes_under_the_station_key(make_record, station_key, signer) -> None:  # type: ignore[no-untyped-def]
    record = make_record(7)
    sealed = signer.seal(record)
    assert sealed.record == record_to_bytes(record)
    assert record_from_bytes(sealed.record) == record
    assert sealed.key_id == signer.key_id == station_key.key_id
    assert signature_valid(sealed, load_public_key(station_key.public_path.read_bytes()))


def test_a_tampered_record_fails_verification(make_record, station_key, signer) -> None:  # type: ignore[no-untyped-def]
    sealed = signer.seal(make_record(1))
    sealed.record = record_to_bytes(replace(make_record(1), lane=2))
    assert not signature_valid(sealed, load_public_key(station_key.public_path.read_bytes()))


def test_sealing_is_deterministic(make_record, signer) -> None:  # type: ignore[no-untyped-def]
    # The outbox's idempotent put relies on this: the same record sealed twice is the same envelope.
    assert signer.seal(make_record(3)) == signer.seal(make_record(3))


def test_refuses_a_record_of_another_station(make_record, signer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ForeignRecord) as caught:
        signer.seal(make_record(1, station_id="50-0002"))
    assert (caught.value.record_station_id, caught.value.signer_station_id) == ("50-0002", "50-0001")


def test_from_pem_file_rejects_a_public_key(station_key) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidKey):
        RecordSigner.from_pem_file(station_key.station_id, station_key.public_path)

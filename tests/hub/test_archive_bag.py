"""A Chongqing car's whole file as a signed BagIt bag: exported from a real hub's database (local
records, records forwarded by the Sichuan hub, labels, audit references), checked by ``bagit``
itself and by ``check_bag``, and every kind of damage named by the item it hit."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import bagit
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elabel.keys import HubLabelKey
from elabel.label_text import sign_label
from hub.archive_bag import (
    LABELS_FILE,
    SIGNATURE_CONTEXT,
    SIGNATURE_FILE,
    TAG_MANIFEST,
    ArchiveBagError,
    BagSignature,
    MalformedSignatureFile,
    ProblemKind,
    check_bag,
    export_bag,
    format_signature_file,
    parse_signature_file,
)
from hub.countersign import HubIdentity
from hub.errors import UnknownVehicle
from hub.label_book import LabelRegistry
from protos.tongjian.v1 import inspection_pb2 as pb
from tests.federation_rig import National, ProvinceHub
from tests.hub.conftest import CHONGQING_STATION, FORWARDED_RECORDS, LOCAL_RECORDS, Exported

FEW_RECORDS = 300  # more than one fetch batch
MANY_RECORDS = 1500


def _copy(exported: Exported, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(exported.bag, target)
    return target


def _problems(bag: Path, exported: Exported) -> set[tuple[str, ProblemKind]]:
    return {(p.item, p.kind) for p in check_bag(bag, national_key=exported.national.public)}  # type: ignore[arg-type]


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


async def test_a_whole_file_exports_as_a_bag_that_bagit_and_check_bag_accept(exported: Exported) -> None:
    bag = bagit.Bag(str(exported.bag))
    bag.validate()  # the maintained BagIt library: every hash, completeness, Payload-Oxum
    assert bag.info["Tongjian-VIN"] == exported.vin and bag.info["Tongjian-Source-Province"] == "50"
    payload = sorted(bag.payload_entries())
    assert sum(p.startswith("data/records/local/") for p in payload) == LOCAL_RECORDS
    assert sum(p.startswith("data/records/forwarded/") for p in payload) == FORWARDED_RECORDS
    assert "data/peer-directories/51.signeddocument" in payload
    assert check_bag(exported.bag, national_key=exported.national.public) == []  # type: ignore[arg-type]
    # With only the source hub's key, forwarded records cannot be checked (their countersigners'
    # keys are in the trust list, which needs the national key): named, not passed over.
    only_hub = check_bag(exported.bag, hub_public_key=exported.chongqing.hub_key.public_key())
    assert {(p.item, p.kind) for p in only_hub} == {
        (f"data/records/forwarded/{n:06d}.signeddocument", ProblemKind.UNCHECKED)
        for n in range(1, FORWARDED_RECORDS + 1)
    }
    # Each record names the audit entries that committed to it (seq and chain hash).
    index = [json.loads(line) for line in (exported.bag / "data/records.jsonl").read_text().splitlines()]
    kinds = {entry["kind"]: {ref["kind"] for ref in entry["audit"]} for entry in index}
    assert "record_stored" in kinds["local"] and "record_forwarded_in" in kinds["forwarded"]
    assert all(len(ref["hash"]) == 64 for entry in index for ref in entry["audit"])
    # A local record in the bag is the station's envelope, byte for byte as the hub stored it.
    stored = exported.chongqing.hub.store.records.by_vin(exported.vin)[0]
    envelope = pb.SignedRecord.FromString(
        (exported.bag / "data/records/local/000001.signedrecord").read_bytes()
    )
    assert (envelope.record, envelope.key_id, envelope.signature) == (
        stored.payload,
        stored.key_id,
        stored.signature,
    )


async def test_every_kind_of_damage_is_named_by_its_item(exported: Exported, tmp_path: Path) -> None:
    record = "data/records/local/000002.signedrecord"
    forwarded = "data/records/forwarded/000001.signeddocument"

    tampered = _copy(exported, tmp_path, "tampered")
    _flip_last_byte(tampered / record)
    assert (record, ProblemKind.ALTERED) in _problems(tampered, exported)
    assert not bagit.Bag(str(tampered)).is_valid()

    missing = _copy(exported, tmp_path, "missing")
    (missing / forwarded).unlink()
    assert (forwarded, ProblemKind.MISSING) in _problems(missing, exported)
    assert not bagit.Bag(str(missing)).is_valid()

    extra = _copy(exported, tmp_path, "extra")
    (extra / "data/records/local/000099.signedrecord").write_bytes(b"slipped in")
    (extra / "notes.txt").write_text("a tag file nobody listed")
    assert {
        ("data/records/local/000099.signedrecord", ProblemKind.EXTRA),
        ("notes.txt", ProblemKind.EXTRA),
    } <= _problems(extra, exported)

    info = _copy(exported, tmp_path, "info")
    text = (
        (info / "bag-info.txt")
        .read_text()
        .replace("Tongjian-Source-Province: 50", "Tongjian-Source-Province: 51")
    )
    (info / "bag-info.txt").write_text(text)
    assert ("bag-info.txt", ProblemKind.ALTERED) in _problems(info, exported)

    # Altering the payload and rewriting every manifest (what bagit's own save() does) leaves the
    # hashes consistent: only the hub's signature over the tag manifest catches it.
    rehashed = _copy(exported, tmp_path, "rehashed")
    _flip_last_byte(rehashed / record)
    rebag = bagit.Bag(str(rehashed))
    rebag.save(manifests=True)
    assert rebag.is_valid()
    problems = _problems(rehashed, exported)
    assert (SIGNATURE_FILE, ProblemKind.BAD_HUB_SIGNATURE) in problems
    assert (record, ProblemKind.BAD_STATION_SIGNATURE) in problems

    forged = _copy(exported, tmp_path, "forged")
    impostor = HubIdentity("50", Ed25519PrivateKey.generate())
    manifest = (forged / TAG_MANIFEST).read_bytes()
    signature = BagSignature(
        TAG_MANIFEST, impostor.key_id, impostor.private_key.sign(SIGNATURE_CONTEXT + manifest)
    )
    (forged / SIGNATURE_FILE).write_bytes(format_signature_file(signature))
    assert _problems(forged, exported) == {(SIGNATURE_FILE, ProblemKind.BAD_HUB_SIGNATURE)}
    right_id = dataclasses.replace(
        signature, key_id=HubIdentity("50", exported.chongqing.hub_key).key_id
    )  # the right key id over a signature the key did not make
    (forged / SIGNATURE_FILE).write_bytes(format_signature_file(right_id))
    assert _problems(forged, exported) == {(SIGNATURE_FILE, ProblemKind.BAD_HUB_SIGNATURE)}


@pytest.mark.parametrize(
    "spoil",
    [lambda value: "!" + value, lambda value: value.replace(".", "/")],
    ids=["not-a-number", "no-dot"],
)
async def test_a_malformed_payload_oxum_is_named_not_raised(
    exported: Exported, tmp_path: Path, spoil: Callable[[str], str]
) -> None:
    """bagit raises its base BagError, not BagValidationError, for a Payload-Oxum it cannot read,
    and a ValueError for one without a "." (both found by the flipped-byte property test:
    '!20239.11', '20239/11'); check_bag must name bag-info.txt."""
    bag = _copy(exported, tmp_path, "oxum")
    info = bag / "bag-info.txt"
    text = info.read_text(encoding="utf-8")
    oxum = next(line for line in text.splitlines() if line.startswith("Payload-Oxum: "))
    value = oxum.removeprefix("Payload-Oxum: ")
    info.write_text(text.replace(oxum, "Payload-Oxum: " + spoil(value)), encoding="utf-8")
    assert ("bag-info.txt", ProblemKind.ALTERED) in _problems(bag, exported)


def _rehash_and_resign(bag: Path, exported: Exported) -> None:
    """Rewrite every manifest (bagit's own save()) and sign the tag manifest with the genuine hub
    key: what a hub exporting content it should never have stored would produce."""
    bagit.Bag(str(bag)).save(manifests=True)
    identity = HubIdentity("50", exported.chongqing.hub_key)
    # save() listed the signature file in the tag manifest; our writer never does (it cannot
    # cover itself): drop that line before signing.
    lines = (bag / TAG_MANIFEST).read_text().splitlines(keepends=True)
    (bag / TAG_MANIFEST).write_text("".join(line for line in lines if SIGNATURE_FILE not in line))
    manifest = (bag / TAG_MANIFEST).read_bytes()
    signature = identity.private_key.sign(SIGNATURE_CONTEXT + manifest)
    (bag / SIGNATURE_FILE).write_bytes(
        format_signature_file(BagSignature(TAG_MANIFEST, identity.key_id, signature))
    )


async def test_inside_a_bag_the_hub_itself_re_signed_every_station_and_label_signature_is_checked(
    exported: Exported, tmp_path: Path
) -> None:
    bag = _copy(exported, tmp_path, "resigned")
    _rehash_and_resign(bag, exported)
    assert check_bag(bag, national_key=exported.national.public) == []  # type: ignore[arg-type]

    item = "data/records/local/000003.signedrecord"
    envelope = pb.SignedRecord.FromString((bag / item).read_bytes())
    envelope.signature = bytes(64)
    (bag / item).write_bytes(envelope.SerializeToString())
    # A label of this vehicle as the hub issued it, signed again by a key that is not the hub's.
    stored = LabelRegistry(exported.chongqing.hub.store.database).by_vin(exported.vin)[0]
    label = json.loads((bag / LABELS_FILE).read_text())
    label["token"] = sign_label(stored.claims, HubLabelKey("50", Ed25519PrivateKey.generate()))
    (bag / LABELS_FILE).write_text(json.dumps(label) + "\n")
    _rehash_and_resign(bag, exported)

    # An index line pointing outside the bag (the check runs before the bag is trusted).
    outside = tmp_path / "outside.signedrecord"
    outside.write_bytes((bag / item).read_bytes())
    escape = "data/records/../../../outside.signedrecord"
    with (bag / "data/records.jsonl").open("a") as index:
        index.write(
            json.dumps({"file": escape, "kind": "local", "received_at": "2026-11-01T08:40:00+00:00"}) + "\n"
        )
    _rehash_and_resign(bag, exported)

    problems = check_bag(bag, national_key=exported.national.public)  # type: ignore[arg-type]
    assert [(p.item, p.kind) for p in problems] == [
        (item, ProblemKind.BAD_STATION_SIGNATURE),
        (escape, ProblemKind.MALFORMED),
        (f"{LABELS_FILE}:1", ProblemKind.BAD_LABEL),
    ]
    assert CHONGQING_STATION in problems[0].detail


async def test_a_label_is_checked_with_its_issuers_key_and_an_unknown_issuer_is_named(
    exported: Exported, tmp_path: Path
) -> None:
    """The source's labels table holds exemption labels other provinces issued for its cars: a
    Sichuan label verifies with Sichuan's key from the trust list; a label of a province the trust
    list does not name is bad, and the message names that province."""
    (stored,) = LabelRegistry(exported.chongqing.hub.store.database).by_vin(exported.vin)
    registry = LabelRegistry(exported.chongqing.hub.store.database)
    for province, key, due in (
        ("51", exported.sichuan.hub_key, date(2024, 5, 1)),
        ("52", Ed25519PrivateKey.generate(), date(2022, 5, 1)),
    ):
        claims = dataclasses.replace(
            stored.claims, issuer_province=province, serial=f"{province}-E-{exported.vin}-{due:%Y%m%d}"
        )
        label_key = HubLabelKey(province, key)
        registry.record_exemption(claims, sign_label(claims, label_key), label_key.kid, due)
    bag = tmp_path / "labels-of-three-provinces"
    export_bag(
        exported.chongqing.hub.store,
        exported.vin,
        bag,
        HubIdentity("50", exported.chongqing.hub_key),
        datetime.now(UTC),
    )
    lines = [json.loads(line)["token"] for line in (bag / LABELS_FILE).read_text().splitlines()]
    number = {
        province: lines.index(
            next(
                label.token
                for label in registry.by_vin(exported.vin)
                if label.claims.issuer_province == province
            )
        )
        + 1
        for province in ("50", "51", "52")
    }
    problems = check_bag(bag, national_key=exported.national.public)  # type: ignore[arg-type]
    assert [(p.item, p.kind) for p in problems] == [(f"{LABELS_FILE}:{number['52']}", ProblemKind.BAD_LABEL)]
    assert "province 52" in problems[0].detail and "trust list" in problems[0].detail
    # With only the source hub's key, Sichuan's label cannot be checked: named, not passed or failed.
    only_hub = check_bag(bag, hub_public_key=exported.chongqing.hub_key.public_key())
    assert {(p.item, p.kind) for p in only_hub if p.item.startswith(LABELS_FILE)} == {
        (f"{LABELS_FILE}:{number['51']}", ProblemKind.UNCHECKED),
        (f"{LABELS_FILE}:{number['52']}", ProblemKind.UNCHECKED),
    }


async def test_exporting_refuses_an_unknown_vehicle_and_an_existing_directory(
    exported: Exported, tmp_path: Path
) -> None:
    identity = HubIdentity("50", exported.chongqing.hub_key)
    with pytest.raises(UnknownVehicle):
        export_bag(
            exported.chongqing.hub.store, "LFV2A21K0NA999999", tmp_path / "x", identity, datetime.now(UTC)
        )
    with pytest.raises(ArchiveBagError, match="already exists"):
        export_bag(exported.chongqing.hub.store, exported.vin, exported.bag, identity, datetime.now(UTC))


# ---------------------------------------------------------------- the signature tag file's parser

_signatures = st.builds(
    BagSignature,
    st.just(TAG_MANIFEST),
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=80),
    st.binary(min_size=64, max_size=64),
)


@given(_signatures)
def test_the_signature_file_reads_back_what_was_written(signature: BagSignature) -> None:
    assert parse_signature_file(format_signature_file(signature)) == signature


@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_raise_the_typed_error(raw: bytes) -> None:
    try:
        parsed = parse_signature_file(raw)
    except MalformedSignatureFile as error:
        assert SIGNATURE_FILE in str(error)
    else:
        assert format_signature_file(parsed) == raw


@given(_signatures, st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=3))
def test_a_damaged_signature_file_never_parses_to_something_else(
    signature: BagSignature, where: int, junk: bytes
) -> None:
    raw = format_signature_file(signature)
    position = where % (len(raw) + 1)
    damaged = raw[:position] + junk + raw[position:]
    try:
        parsed = parse_signature_file(damaged)
    except MalformedSignatureFile:
        return
    assert format_signature_file(parsed) == damaged  # only a different, well-formed file parses


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"Signed-File: tagmanifest-sha256.txt\nHub-Key-Id: k\nSignature: AAAA\n", "line 3: 3 bytes"),
        (b"Signed-File: manifest-sha256.txt\nHub-Key-Id: k\nSignature: AAAA\n", "line 1"),
        (b"Hub-Key-Id: k\nSigned-File: tagmanifest-sha256.txt\nSignature: AAAA\n", "line 1"),
        (b"Signed-File: tagmanifest-sha256.txt\nHub-Key-Id: k\n", "2 lines"),
        (
            b"Signed-File: tagmanifest-sha256.txt\nHub-Key-Id: k\nSignature: "
            + base64.b64encode(bytes(64))[:-1]
            + b"!\n",
            "not base64",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_signature_files_name_the_line(raw: bytes, where: str) -> None:
    with pytest.raises(MalformedSignatureFile, match=where):
        parse_signature_file(raw)


# ---------------------------------------------------------------- streaming


async def _peak_export_bytes(hub: ProvinceHub, vin: str, bag: Path) -> tuple[int, int]:
    """Peak Python memory the export allocates (tracemalloc), and the bag's payload size."""
    tracemalloc.start()
    try:
        summary = export_bag(hub.hub.store, vin, bag, HubIdentity("50", hub.hub_key), datetime.now(UTC))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, summary.payload_bytes


@pytest.mark.slow
async def test_export_memory_does_not_grow_with_the_number_of_records(
    databases: Any, tmp_path: Path, make_record: Any, submit: Any
) -> None:
    national = National()
    hub = ProvinceHub("50", databases.new("chongqing"), national.public)
    await hub.start()
    try:
        station = hub.enrol_station(CHONGQING_STATION, tmp_path)
        few, many = make_record(0).vehicle, make_record(1).vehicle
        hub.register_vehicles([make_record(0), make_record(1)])
        records = [
            dataclasses.replace(
                make_record(i, station_id=CHONGQING_STATION), vehicle=few if i < FEW_RECORDS else many
            )
            for i in range(FEW_RECORDS + MANY_RECORDS)
        ]
        for start in range(0, len(records), 500):
            outcome = await submit(hub.hub.port, [station.seal(r) for r in records[start : start + 500]])
            assert outcome.error is None and all(ack.reason == "" for ack in outcome.acks)
        small_peak, small_bytes = await _peak_export_bytes(hub, few.vin, tmp_path / "few")
        large_peak, large_bytes = await _peak_export_bytes(hub, many.vin, tmp_path / "many")
        print(
            f"export: {FEW_RECORDS} records {small_bytes} B payload, peak {small_peak} B; "
            f"{MANY_RECORDS} records {large_bytes} B payload, peak {large_peak} B"
        )
        # Both exports fill whole fetch batches (hub.archive_bag._YIELD_PER rows); five times the
        # records must not mean more memory, as it would if they were all held at once.
        assert large_bytes > 4 * small_bytes
        assert large_peak - small_peak < (large_bytes - small_bytes) / 10
        assert check_bag(tmp_path / "many", hub_public_key=hub.hub_key.public_key()) == []
    finally:
        await hub.stop()


# ---------------------------------------------------------------- any damage, any index line


async def test_any_flipped_byte_anywhere_in_the_bag_is_found_and_a_payload_file_named(
    exported: Exported, tmp_path: Path
) -> None:
    files = sorted(p.relative_to(exported.bag).as_posix() for p in exported.bag.rglob("*") if p.is_file())
    counter = iter(range(10_000))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(files), st.integers(min_value=0), st.integers(min_value=1, max_value=255))
    def damage(item: str, where: int, mask: int) -> None:
        bag = _copy(exported, tmp_path, f"flip-{next(counter)}")
        data = bytearray((bag / item).read_bytes())
        data[where % len(data)] ^= mask
        (bag / item).write_bytes(bytes(data))
        problems = check_bag(bag, national_key=exported.national.public)  # type: ignore[arg-type]
        assert problems, f"a flipped byte in {item} went unnoticed"
        if item.startswith("data/"):
            assert item in {p.item for p in problems}
        shutil.rmtree(bag)

    damage()


async def test_any_line_added_to_the_records_index_is_named_never_raised(
    exported: Exported, tmp_path: Path
) -> None:
    counter = iter(range(10_000))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.one_of(
            st.binary(max_size=120).filter(lambda b: b"\n" not in b and b"\r" not in b),
            st.dictionaries(
                st.sampled_from(["file", "kind", "received_at", "record_id"]),
                st.one_of(st.text(max_size=40), st.integers(), st.none()),
            ).map(lambda d: json.dumps(d).encode()),
        )
    )
    def add_line(line: bytes) -> None:
        bag = _copy(exported, tmp_path, f"index-{next(counter)}")
        with (bag / "data/records.jsonl").open("ab") as index:
            index.write(line + b"\n")
        _rehash_and_resign(bag, exported)
        problems = check_bag(bag, national_key=exported.national.public)  # type: ignore[arg-type]
        assert problems, f"index line {line!r} passed"
        assert all(p.kind in (ProblemKind.MALFORMED, ProblemKind.MISSING) for p in problems), problems
        shutil.rmtree(bag)

    add_line()

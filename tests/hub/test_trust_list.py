"""The national trust list: signed by the national key, read only when every entry is sound,
installed only forward (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import HubError
from hub.store import HubStore
from hub.trust_list import (
    NATIONAL_SIGNER,
    EntryProblem,
    InvalidProvinceEntry,
    MalformedTrustList,
    ProvinceHubEntry,
    TrustListExpired,
    TrustListInvalid,
    TrustListRollback,
    TrustListSignatureInvalid,
    TrustListStore,
    UnknownProvince,
    build_trust_list,
    read_trust_list,
)
from pki.authority import Role, init_ca, issue
from protos.envelope import key_id_of, raw_public_key
from protos.errors import ProtosError
from protos.signed_document import parse_document, sign_document
from protos.tongjian.v1 import federation_pb2

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
NATIONAL = Ed25519PrivateKey.generate()
HUB_50 = Ed25519PrivateKey.generate()
HUB_51 = Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class Pems:
    ca_50: bytes
    ca_51: bytes
    leaf: bytes  # a peer-hub certificate: not a CA


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    root = tmp_path_factory.mktemp("trust-pki")
    ca_50 = init_ca(root / "ca50", "Chongqing peer CA")
    ca_51 = init_ca(root / "ca51", "Sichuan peer CA")
    leaf = issue(root / "ca50", Role.PEER_HUB, "peer-hub-50", root / "leaf")
    return Pems(ca_50.cert_path.read_bytes(), ca_51.cert_path.read_bytes(), leaf.cert_path.read_bytes())


def entries(pems: Pems) -> list[ProvinceHubEntry]:
    return [
        ProvinceHubEntry.create("50", "Chongqing", "hub50.example:7443", "peer-hub-50", pems.ca_50, HUB_50.public_key()),
        ProvinceHubEntry.create("51", "Sichuan", "10.0.0.51:7443", "peer-hub-51", pems.ca_51, HUB_51.public_key()),
    ]  # fmt: skip


def signed_list(
    pems: Pems,
    version: int = 1,
    not_after: datetime = NOW + timedelta(days=30),
    key: Ed25519PrivateKey = NATIONAL,
) -> federation_pb2.SignedDocument:
    body = build_trust_list(version, entries(pems), NOW - timedelta(hours=1), not_after)
    return sign_document(body, NATIONAL_SIGNER, key)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# ---------------------------------------------------------------- reading


def test_a_signed_list_reads_back_with_every_entry(pems: Pems) -> None:
    document = signed_list(pems, version=7)
    trust_list = read_trust_list(document, NATIONAL.public_key(), NOW)
    assert trust_list.version == 7
    assert trust_list.not_after == NOW + timedelta(days=30)
    assert sorted(trust_list.provinces) == ["50", "51"]
    chongqing = trust_list.entry("50")
    assert chongqing == entries(pems)[0]
    assert chongqing.hub_key_id == key_id_of("hub-50", HUB_50.public_key())
    assert trust_list.province_of_peer("peer-hub-51") == "51"
    assert trust_list.province_of_peer("peer-hub-99") is None
    assert trust_list.document is document
    with pytest.raises(UnknownProvince, match="'11' is not in trust list version 7"):
        trust_list.entry("11")


@pytest.mark.parametrize("part", ["body", "signature", "key_id"])
def test_one_byte_changed_anywhere_is_a_bad_signature(pems: Pems, part: str) -> None:
    document = signed_list(pems)
    for index in (0, len(getattr(document, part)) // 2, len(getattr(document, part)) - 1):
        tampered = federation_pb2.SignedDocument()
        tampered.CopyFrom(document)
        if part == "key_id":
            key_id = document.key_id
            tampered.key_id = key_id[:index] + ("x" if key_id[index] != "x" else "y") + key_id[index + 1 :]
        else:
            setattr(tampered, part, _flip(getattr(document, part), index))
        with pytest.raises(TrustListSignatureInvalid, match="national trust list"):
            read_trust_list(tampered, NATIONAL.public_key(), NOW)


def test_a_list_signed_by_another_key_is_refused(pems: Pems) -> None:
    document = signed_list(pems, key=HUB_50)
    with pytest.raises(TrustListSignatureInvalid, match="does not name the trusted key"):
        read_trust_list(document, NATIONAL.public_key(), NOW)


def test_an_expired_list_is_refused_with_its_not_after(pems: Pems) -> None:
    document = signed_list(pems, version=3, not_after=NOW - timedelta(seconds=1))
    with pytest.raises(TrustListExpired) as caught:
        read_trust_list(document, NATIONAL.public_key(), NOW)
    assert caught.value.not_after == NOW - timedelta(seconds=1)
    assert "version 3 expired" in str(caught.value)


def _signed_message(message: federation_pb2.TrustList) -> federation_pb2.SignedDocument:
    return sign_document(message.SerializeToString(), NATIONAL_SIGNER, NATIONAL)


def _message(pems: Pems) -> federation_pb2.TrustList:
    return federation_pb2.TrustList.FromString(signed_list(pems).body)


def test_a_malformed_body_is_named(pems: Pems) -> None:
    with pytest.raises(MalformedTrustList, match="not a TrustList"):
        read_trust_list(sign_document(b"\xff\xff\xff", NATIONAL_SIGNER, NATIONAL), NATIONAL.public_key(), NOW)
    message = _message(pems)
    message.version = 0
    with pytest.raises(MalformedTrustList, match="versions start at 1"):
        read_trust_list(_signed_message(message), NATIONAL.public_key(), NOW)
    message = _message(pems)
    message.ClearField("not_after")
    with pytest.raises(MalformedTrustList, match="no not_after"):
        read_trust_list(_signed_message(message), NATIONAL.public_key(), NOW)
    message = _message(pems)
    message.not_after.CopyFrom(message.issued_at)
    with pytest.raises(MalformedTrustList, match="not after issued_at"):
        read_trust_list(_signed_message(message), NATIONAL.public_key(), NOW)
    message = _message(pems)
    message.not_after.seconds = 2**62
    with pytest.raises(MalformedTrustList, match="not_after is not a time"):
        read_trust_list(_signed_message(message), NATIONAL.public_key(), NOW)


ENTRY_CASES: list[tuple[str, Callable[[federation_pb2.TrustList, Pems], None], EntryProblem]] = [
    ("unknown code", lambda m, p: setattr(m.provinces[1], "province", "99"), EntryProblem.BAD_PROVINCE_CODE),
    ("three digits", lambda m, p: setattr(m.provinces[1], "province", "510"), EntryProblem.BAD_PROVINCE_CODE),
    ("empty code", lambda m, p: setattr(m.provinces[1], "province", ""), EntryProblem.BAD_PROVINCE_CODE),
    ("empty name", lambda m, p: setattr(m.provinces[1], "name", " "), EntryProblem.MISSING_NAME),
    ("no port", lambda m, p: setattr(m.provinces[1], "endpoint", "hub51.example"), EntryProblem.BAD_ENDPOINT),
    ("port 0", lambda m, p: setattr(m.provinces[1], "endpoint", "hub51.example:0"), EntryProblem.BAD_ENDPOINT),
    ("port too big", lambda m, p: setattr(m.provinces[1], "endpoint", "h:70000"), EntryProblem.BAD_ENDPOINT),
    ("space", lambda m, p: setattr(m.provinces[1], "endpoint", "hub 51:7443"), EntryProblem.BAD_ENDPOINT),
    ("newline", lambda m, p: setattr(m.provinces[1], "endpoint", "h:7443\n"), EntryProblem.BAD_ENDPOINT),
    ("no host", lambda m, p: setattr(m.provinces[1], "endpoint", ":7443"), EntryProblem.BAD_ENDPOINT),
    ("empty peer name", lambda m, p: setattr(m.provinces[1], "peer_name", ""), EntryProblem.MISSING_PEER_NAME),
    ("peer name with /", lambda m, p: setattr(m.provinces[1], "peer_name", "a/b"), EntryProblem.MISSING_PEER_NAME),
    ("short key", lambda m, p: setattr(m.provinces[1], "hub_public_key", b"k" * 31), EntryProblem.BAD_HUB_KEY),
    ("long key", lambda m, p: setattr(m.provinces[1], "hub_public_key", b"k" * 33), EntryProblem.BAD_HUB_KEY),
    ("no key", lambda m, p: setattr(m.provinces[1], "hub_public_key", b""), EntryProblem.BAD_HUB_KEY),
    ("garbage CA", lambda m, p: setattr(m.provinces[1], "peer_ca_pem", b"not a pem"), EntryProblem.BAD_CA_PEM),
    (
        "broken CA",
        lambda m, p: setattr(m.provinces[1], "peer_ca_pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        EntryProblem.BAD_CA_PEM,
    ),
    ("leaf, not a CA", lambda m, p: setattr(m.provinces[1], "peer_ca_pem", p.leaf), EntryProblem.BAD_CA_PEM),
    ("province twice", lambda m, p: setattr(m.provinces[1], "province", "50"), EntryProblem.DUPLICATE_PROVINCE),
    ("peer twice", lambda m, p: setattr(m.provinces[1], "peer_name", "peer-hub-50"), EntryProblem.DUPLICATE_PEER_NAME),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "problem"), ENTRY_CASES, ids=[case[0] for case in ENTRY_CASES])
def test_each_bad_entry_is_refused_naming_the_entry_and_the_problem(
    pems: Pems, case: str, mutate: Callable[[federation_pb2.TrustList, Pems], None], problem: EntryProblem
) -> None:
    message = _message(pems)
    mutate(message, pems)
    with pytest.raises(InvalidProvinceEntry) as caught:
        read_trust_list(_signed_message(message), NATIONAL.public_key(), NOW)
    assert caught.value.problem is problem
    assert caught.value.index == 1
    assert "trust list entry 1" in str(caught.value) and problem.value in str(caught.value)


def test_the_national_tool_cannot_build_a_list_hubs_would_refuse(pems: Pems) -> None:
    good = entries(pems)
    bad_endpoint = ProvinceHubEntry.create(
        "51", "Sichuan", "nowhere", "peer-hub-51", pems.ca_51, HUB_51.public_key()
    )
    with pytest.raises(InvalidProvinceEntry, match="bad_endpoint"):
        build_trust_list(2, [good[0], bad_endpoint], NOW, NOW + timedelta(days=1))
    with pytest.raises(InvalidProvinceEntry, match="duplicate_province"):
        build_trust_list(2, [good[0], good[0]], NOW, NOW + timedelta(days=1))
    wrong_key_id = ProvinceHubEntry(
        "51", "Sichuan", "h:1", "peer-hub-51", pems.ca_51, HUB_51.public_key(), "hub-51/0"
    )
    with pytest.raises(InvalidProvinceEntry, match="bad_hub_key"):
        build_trust_list(2, [wrong_key_id], NOW, NOW + timedelta(days=1))
    with pytest.raises(MalformedTrustList, match="not after issued_at"):
        build_trust_list(2, good, NOW, NOW)
    with pytest.raises(MalformedTrustList, match="no time zone"):
        build_trust_list(2, good, NOW.replace(tzinfo=None), NOW + timedelta(days=1))
    assert read_trust_list(signed_list(pems), NATIONAL.public_key(), NOW).version == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400))
def test_arbitrary_signed_bodies_raise_only_trust_list_errors(body: bytes) -> None:
    with contextlib.suppress(TrustListInvalid):
        read_trust_list(sign_document(body, NATIONAL_SIGNER, NATIONAL), NATIONAL.public_key(), NOW)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes_as_a_document_raise_only_typed_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtosError, TrustListInvalid):
        read_trust_list(parse_document(raw, "trust list"), NATIONAL.public_key(), NOW)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.fixed_dictionaries(
        {
            "province": st.one_of(st.sampled_from(["50", "51", "11"]), st.text(max_size=4)),
            "name": st.text(max_size=70),
            "endpoint": st.one_of(st.just("h.example:443"), st.text(max_size=30)),
            "peer_name": st.text(max_size=70),
            "peer_ca_pem": st.binary(max_size=64),
            "hub_public_key": st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40)),
        }
    )
)
def test_arbitrary_entries_raise_only_trust_list_errors(pems: Pems, fields: dict[str, object]) -> None:
    message = _message(pems)
    message.provinces.add(**fields)  # type: ignore[arg-type]
    try:
        read_trust_list(_signed_message(message), NATIONAL.public_key(), NOW)
    except TrustListInvalid as error:
        assert isinstance(error, HubError)


# ---------------------------------------------------------------- storing


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    hub_store = HubStore(database_url)
    hub_store.migrate()
    yield hub_store
    hub_store.dispose()


def test_install_keeps_the_newest_and_refuses_a_rollback(store: HubStore, pems: Pems) -> None:
    trust = TrustListStore(store.database)
    assert trust.current(NATIONAL.public_key(), NOW) is None
    assert trust.current_document() is None
    assert trust.installed_version() == 0
    version_2 = signed_list(pems, version=2)
    assert trust.install(version_2, NATIONAL.public_key(), NOW).version == 2
    for older_or_same in (1, 2):
        with pytest.raises(
            TrustListRollback, match=f"version {older_or_same} is not newer than the installed version 2"
        ):
            trust.install(signed_list(pems, version=older_or_same), NATIONAL.public_key(), NOW)
    current = trust.current(NATIONAL.public_key(), NOW)
    assert current is not None and current.version == 2
    assert trust.current_document() == version_2
    assert trust.install(signed_list(pems, version=5), NATIONAL.public_key(), NOW).version == 5
    assert trust.installed_version() == 5
    installed = [event for event in store.audit_events() if event.kind == "trust_list_installed"]
    assert sorted(event.detail.split(",")[0] for event in installed) == ["version 2", "version 5"]
    assert store.verify_audit_chain().ok


def test_an_invalid_list_is_never_installed(store: HubStore, pems: Pems) -> None:
    trust = TrustListStore(store.database)
    tampered = signed_list(pems, version=9)
    tampered.body = _flip(tampered.body, 3)
    with pytest.raises(TrustListSignatureInvalid):
        trust.install(tampered, NATIONAL.public_key(), NOW)
    with pytest.raises(TrustListExpired):
        trust.install(
            signed_list(pems, version=9, not_after=NOW - timedelta(minutes=1)), NATIONAL.public_key(), NOW
        )
    assert trust.installed_version() == 0


def test_offer_takes_only_a_newer_valid_list(store: HubStore, pems: Pems) -> None:
    trust = TrustListStore(store.database)
    assert trust.offer(signed_list(pems, version=3), NATIONAL.public_key(), NOW) is True
    assert trust.offer(signed_list(pems, version=3), NATIONAL.public_key(), NOW) is False
    assert trust.offer(signed_list(pems, version=2), NATIONAL.public_key(), NOW) is False
    with pytest.raises(TrustListSignatureInvalid):
        trust.offer(signed_list(pems, version=4, key=HUB_51), NATIONAL.public_key(), NOW)
    assert trust.offer(signed_list(pems, version=4), NATIONAL.public_key(), NOW) is True
    assert trust.installed_version() == 4


def test_the_list_in_force_expires_with_time(store: HubStore, pems: Pems) -> None:
    trust = TrustListStore(store.database)
    trust.install(signed_list(pems, not_after=NOW + timedelta(days=1)), NATIONAL.public_key(), NOW)
    assert trust.current(NATIONAL.public_key(), NOW + timedelta(hours=23)) is not None
    with pytest.raises(TrustListExpired):
        trust.current(NATIONAL.public_key(), NOW + timedelta(days=2))
    with pytest.raises(TrustListSignatureInvalid):
        trust.current(HUB_50.public_key(), NOW)


def test_raw_keys_in_the_list_are_the_hubs_keys(pems: Pems) -> None:
    message = _message(pems)
    assert [hub.hub_public_key for hub in message.provinces] == [
        raw_public_key(HUB_50.public_key()),
        raw_public_key(HUB_51.public_key()),
    ]


def test_a_province_file_written_by_init_ca_is_a_path_too(tmp_path: Path) -> None:
    # The CLI reads --peer-ca from a file; the entry holds the bytes.
    ca = init_ca(tmp_path / "ca", "x")
    entry = ProvinceHubEntry.create(
        "52", "Guizhou", "[::1]:7443", "peer-hub-52", ca.cert_path.read_bytes(), HUB_50.public_key()
    )
    body = build_trust_list(1, [entry], NOW, NOW + timedelta(days=1))
    assert (
        read_trust_list(sign_document(body, NATIONAL_SIGNER, NATIONAL), NATIONAL.public_key(), NOW).entry(
            "52"
        )
        == entry
    )


def test_replicas_installing_one_version_at_once_install_it_once(
    store: HubStore, database_url: str, pems: Pems
) -> None:
    replicas = [HubStore(database_url) for _ in range(4)]
    document = signed_list(pems, version=6)

    def install(replica: HubStore) -> str:
        try:
            TrustListStore(replica.database).install(document, NATIONAL.public_key(), NOW)
        except TrustListRollback:
            return "refused"
        return "installed"

    try:
        with ThreadPoolExecutor(len(replicas)) as pool:
            outcomes = sorted(pool.map(install, replicas))
    finally:
        for replica in replicas:
            replica.dispose()
    assert outcomes == ["installed", "refused", "refused", "refused"]
    assert [event.kind for event in store.audit_events()].count("trust_list_installed") == 1

"""Station directories between hubs: the sequence moves with every key change in the same
transaction, a signed directory carries every key (revoked ones too), peers read only sound ones
and cache the newest (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.envelope_check import EnvelopeLimits, RecordRejected, RejectionKind, verify_envelope
from hub.errors import HubConfigError, HubStoreError
from hub.published_directory import (
    DEFAULT_TTL,
    MAX_TTL,
    CachedDirectory,
    DirectoryInvalid,
    DirectoryKeyMismatch,
    DirectorySignatureInvalid,
    DirectoryWrongProvince,
    MalformedDirectory,
    NoPeerDirectory,
    PeerDirectoryCache,
    PeerDirectoryExpired,
    read_directory,
    sign_directory,
)
from hub.store import HubStore
from protos.envelope import key_id_of, raw_public_key
from protos.errors import ProtosError
from protos.signed_document import parse_document, sign_document
from protos.tongjian.v1 import federation_pb2
from station_agent.record_signer import RecordSigner
from tests.conftest import RecordFactory

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
HUB_51 = Ed25519PrivateKey.generate()
HUB_OTHER = Ed25519PrivateKey.generate()


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    hub_store = HubStore(database_url)
    hub_store.migrate()
    yield hub_store
    hub_store.dispose()


def _sign(
    store: HubStore, now: datetime = NOW, ttl: timedelta = DEFAULT_TTL
) -> federation_pb2.SignedDocument:
    return sign_directory(store.directory, "51", HUB_51, "hub-51", now, ttl)


def _read(document: federation_pb2.SignedDocument, now: datetime = NOW) -> object:
    return read_directory(document, HUB_51.public_key(), "51", now)


# ---------------------------------------------------------------- the sequence


def test_the_sequence_moves_with_every_key_change_and_only_then(store: HubStore) -> None:
    directory = store.directory
    assert directory.sequence() == 0
    store.register_station("51-0001", province="51")
    assert directory.sequence() == 0  # a station without keys changes no key
    key = Ed25519PrivateKey.generate()
    key_id = store.add_station_key("51-0001", _pem(key))
    assert directory.sequence() == 1
    store.add_station_key("51-0001", _pem(key))  # the same key again: no change
    assert directory.sequence() == 1
    store.revoke_key(key_id, NOW)
    assert directory.sequence() == 2
    with pytest.raises(HubStoreError):
        store.revoke_key("51-0001/0000000000000000")
    assert directory.sequence() == 2
    snapshot = directory.snapshot()
    assert snapshot.sequence == 2 and snapshot.keys[key_id].revoked_at == NOW


def test_two_hub_stores_on_one_database_see_the_same_sequence(store: HubStore, database_url: str) -> None:
    replica = HubStore(database_url)
    try:
        store.register_station("51-0001", province="51")
        key_id = store.add_station_key("51-0001", _pem(Ed25519PrivateKey.generate()))
        assert replica.directory.sequence() == store.directory.sequence() == 1
        replica.revoke_key(key_id, NOW)
        replica.register_station("51-0002", province="51")
        replica.add_station_key("51-0002", _pem(Ed25519PrivateKey.generate()))
        assert store.directory.sequence() == replica.directory.sequence() == 3
        from_first = read_directory(_sign(store), HUB_51.public_key(), "51", NOW)
        from_replica = read_directory(_sign(replica), HUB_51.public_key(), "51", NOW)
        assert from_first.sequence == from_replica.sequence == 3
        assert from_first.keys == from_replica.keys
    finally:
        replica.dispose()


def test_replicas_changing_keys_at_once_agree_on_the_sequence_and_every_snapshot_is_consistent(
    store: HubStore, database_url: str
) -> None:
    # Two replicas enrol keys concurrently while a third signs directories: the sequence counts
    # every change exactly once, and each snapshot holds exactly the keys of its sequence (here
    # each change adds one key, so len(keys) == sequence).
    per_replica = 15
    replicas = [HubStore(database_url) for _ in range(2)]
    for index in range(len(replicas)):
        store.register_station(f"51-{index:04d}", province="51")
    snapshots = []

    def enrol(replica: HubStore, station: str) -> None:
        for _ in range(per_replica):
            replica.add_station_key(station, _pem(Ed25519PrivateKey.generate()))

    try:
        with ThreadPoolExecutor(len(replicas)) as pool:
            done = [pool.submit(enrol, replica, f"51-{index:04d}") for index, replica in enumerate(replicas)]
            while not all(future.done() for future in done):
                snapshots.append(store.directory.snapshot())
            for future in done:
                future.result()  # re-raises what a replica hit
    finally:
        for replica in replicas:
            replica.dispose()
    assert store.directory.sequence() == len(replicas) * per_replica
    snapshots.append(store.directory.snapshot())
    assert all(len(snapshot.keys) == snapshot.sequence for snapshot in snapshots)
    assert snapshots[-1].sequence == len(replicas) * per_replica


def test_a_key_change_that_fails_leaves_the_sequence_alone(store: HubStore) -> None:
    with pytest.raises(HubStoreError):  # UnknownStation: rolled back with the bump
        store.add_station_key("51-9999", _pem(Ed25519PrivateKey.generate()))
    assert store.directory.sequence() == 0


# ---------------------------------------------------------------- signing and reading


def test_a_revocation_shows_in_the_next_signed_directory(store: HubStore) -> None:
    store.register_station("51-0001", province="51")
    old = Ed25519PrivateKey.generate()
    valid_until = NOW + timedelta(days=365)
    old_id = store.add_station_key(
        "51-0001", _pem(old), valid_from=NOW - timedelta(days=30), valid_until=valid_until
    )
    new_id = store.add_station_key("51-0001", _pem(Ed25519PrivateKey.generate()))
    before = read_directory(_sign(store), HUB_51.public_key(), "51", NOW)
    assert before.sequence == 2
    assert set(before.keys) == {old_id, new_id}
    assert before.keys[old_id].revoked_at is None
    assert before.keys[old_id].valid_until == valid_until
    assert before.keys[old_id].valid_from == NOW - timedelta(days=30)
    assert raw_public_key(before.keys[old_id].public_key) == raw_public_key(old.public_key())
    assert before.issued_at == NOW and before.valid_until == NOW + DEFAULT_TTL

    revoked_at = NOW + timedelta(minutes=1)
    store.revoke_key(old_id, revoked_at)
    after = read_directory(_sign(store, NOW + timedelta(minutes=2)), HUB_51.public_key(), "51", NOW)
    assert after.sequence > before.sequence
    assert after.keys[old_id].revoked_at == revoked_at  # still listed, with when
    assert after.keys[new_id].revoked_at is None


def test_a_record_received_before_the_revocation_still_verifies_with_the_peer_directory(
    store: HubStore,
    signer: RecordSigner,
    station_key,
    make_record: RecordFactory,  # type: ignore[no-untyped-def]
) -> None:
    store.register_station(station_key.station_id)
    store.add_station_key(station_key.station_id, station_key.public_path.read_bytes())
    received = datetime(2026, 11, 2, tzinfo=UTC)
    store.revoke_key(station_key.key_id, received + timedelta(hours=1))
    peer = read_directory(_sign(store), HUB_51.public_key(), "51", NOW)
    envelope = signer.seal(make_record(1))
    verified = verify_envelope(envelope, peer.keys, EnvelopeLimits(), received)
    assert verified.key.key_id == station_key.key_id
    with pytest.raises(RecordRejected) as caught:
        verify_envelope(envelope, peer.keys, EnvelopeLimits(), received + timedelta(hours=2))
    assert caught.value.kind is RejectionKind.KEY_REVOKED


def test_sign_directory_refuses_a_signer_or_ttl_peers_would_refuse(store: HubStore) -> None:
    with pytest.raises(HubConfigError, match="signed as 'hub-51', not 'hub'"):
        sign_directory(store.directory, "51", HUB_51, "hub", NOW)
    with pytest.raises(HubConfigError, match="ttl"):
        sign_directory(store.directory, "51", HUB_51, "hub-51", NOW, MAX_TTL + timedelta(seconds=1))
    with pytest.raises(HubConfigError, match="ttl"):
        sign_directory(store.directory, "51", HUB_51, "hub-51", NOW, timedelta(0))


def _directory_message(keys: int = 1) -> federation_pb2.StationDirectory:
    message = federation_pb2.StationDirectory(province="51", sequence=4)
    message.issued_at.FromDatetime(NOW)
    message.valid_until.FromDatetime(NOW + DEFAULT_TTL)
    for index in range(keys):
        public_key = Ed25519PrivateKey.generate().public_key()
        station = f"51-{index:04d}"
        message.keys.add(
            station_id=station, key_id=key_id_of(station, public_key), public_key=raw_public_key(public_key)
        )
    return message


def _signed(
    message: federation_pb2.StationDirectory, signer: str = "hub-51"
) -> federation_pb2.SignedDocument:
    return sign_document(message.SerializeToString(), signer, HUB_51)


@pytest.mark.parametrize("part", ["body", "signature", "key_id"])
def test_one_byte_changed_anywhere_is_a_bad_signature(part: str) -> None:
    document = _signed(_directory_message(2))
    for index in (0, len(getattr(document, part)) // 2, len(getattr(document, part)) - 1):
        tampered = federation_pb2.SignedDocument()
        tampered.CopyFrom(document)
        if part == "key_id":
            key_id = document.key_id
            tampered.key_id = key_id[:index] + ("x" if key_id[index] != "x" else "y") + key_id[index + 1 :]
        else:
            setattr(tampered, part, _flip(getattr(document, part), index))
        with pytest.raises(DirectorySignatureInvalid, match="station directory of province 51"):
            _read(tampered)


def test_a_directory_of_another_hub_or_province_is_refused() -> None:
    with pytest.raises(DirectorySignatureInvalid):
        read_directory(_signed(_directory_message()), HUB_OTHER.public_key(), "51", NOW)
    with pytest.raises(DirectorySignatureInvalid, match="signer 'hub-50'"):
        read_directory(_signed(_directory_message()), HUB_51.public_key(), "50", NOW)
    message = _directory_message()
    message.province = "52"
    with pytest.raises(DirectoryWrongProvince, match="province '52' offered as province '51'"):
        _read(_signed(message))


def _mutated(change: str) -> federation_pb2.StationDirectory:
    message = _directory_message(2)
    key = message.keys[1]
    if change == "no valid_until":
        message.ClearField("valid_until")
    elif change == "lives too long":
        message.valid_until.FromDatetime(NOW + MAX_TTL + timedelta(seconds=1))
    elif change == "ends before it starts":
        message.valid_until.FromDatetime(NOW - timedelta(seconds=1))
    elif change == "from the future":
        message.issued_at.FromDatetime(NOW + timedelta(minutes=10))
        message.valid_until.FromDatetime(NOW + timedelta(minutes=20))
    elif change == "not a time":
        key.revoked_at.seconds = 2**62
    elif change == "short key":
        key.public_key = key.public_key[:31]
    elif change == "station with slash":
        key.station_id = "51/0001"
    elif change == "listed twice":
        message.keys.add().CopyFrom(message.keys[0])
    return message


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("no valid_until", "no valid_until"),
        ("lives too long", "at most 1:00:00 later"),
        ("ends before it starts", "must be after issued_at"),
        ("from the future", "in the future"),
        ("not a time", "revoked_at is not a time"),
        ("short key", "31 bytes"),
        ("station with slash", "contain no '/'"),
        ("listed twice", "listed twice"),
    ],
)
def test_a_malformed_directory_is_refused_naming_what(change: str, match: str) -> None:
    with pytest.raises(MalformedDirectory, match=match):
        _read(_signed(_mutated(change)))


def test_garbage_signed_by_the_hub_is_malformed() -> None:
    with pytest.raises(MalformedDirectory, match="not a StationDirectory"):
        _read(sign_document(b"\xff\xff", "hub-51", HUB_51))


def test_a_key_id_that_names_another_key_or_station_is_refused() -> None:
    message = _directory_message(2)
    message.keys[1].key_id = message.keys[0].key_id.replace("51-0000", "51-0001")  # right station, other key
    with pytest.raises(DirectoryKeyMismatch, match="does not name station '51-0001'"):
        _read(_signed(message))
    message = _directory_message(1)
    message.keys[0].station_id = "51-0009"  # the key id names 51-0000
    with pytest.raises(DirectoryKeyMismatch) as caught:
        _read(_signed(message))
    assert caught.value.key_id == message.keys[0].key_id


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=400))
def test_arbitrary_signed_bodies_raise_only_directory_errors(body: bytes) -> None:
    with contextlib.suppress(DirectoryInvalid):
        _read(sign_document(body, "hub-51", HUB_51))


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes_as_a_document_raise_only_typed_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtosError, DirectoryInvalid):
        _read(parse_document(raw, "directory"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    station_id=st.text(max_size=20),
    key_id=st.text(max_size=40),
    public_key=st.binary(max_size=40),
    times=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=3, max_size=3),
)
def test_arbitrary_keys_raise_only_directory_errors(
    station_id: str, key_id: str, public_key: bytes, times: list[int]
) -> None:
    message = _directory_message(1)
    key = message.keys.add(station_id=station_id, key_id=key_id, public_key=public_key)
    key.valid_from.seconds, key.valid_until.seconds, key.revoked_at.seconds = times
    with contextlib.suppress(DirectoryInvalid):
        _read(_signed(message))


# ---------------------------------------------------------------- the peers' directories, cached


def _at(sequence: int, issued_at: datetime, ttl: timedelta = DEFAULT_TTL) -> federation_pb2.SignedDocument:
    message = _directory_message(1)
    message.sequence = sequence
    message.issued_at.FromDatetime(issued_at)
    message.valid_until.FromDatetime(issued_at + ttl)
    return _signed(message)


def test_offer_keeps_the_newest(store: HubStore) -> None:
    cache = PeerDirectoryCache(store.database)
    hub_key = HUB_51.public_key()
    with pytest.raises(NoPeerDirectory, match="province '51'"):
        cache.get("51", hub_key, NOW)
    assert cache.offer("51", _at(5, NOW), hub_key, NOW).sequence == 5
    older = cache.offer("51", _at(4, NOW + timedelta(minutes=1)), hub_key, NOW + timedelta(minutes=1))
    assert (older.sequence, older.issued_at) == (5, NOW)  # ignored: the cached one comes back
    resigned = cache.offer("51", _at(5, NOW + timedelta(minutes=7)), hub_key, NOW + timedelta(minutes=7))
    assert (resigned.sequence, resigned.issued_at) == (5, NOW + timedelta(minutes=7))
    stale = cache.offer("51", _at(5, NOW + timedelta(minutes=3)), hub_key, NOW + timedelta(minutes=8))
    assert stale.issued_at == NOW + timedelta(minutes=7)
    newer = cache.offer("51", _at(6, NOW + timedelta(minutes=8)), hub_key, NOW + timedelta(minutes=8))
    assert newer.sequence == 6
    got = cache.get("51", hub_key, NOW + timedelta(minutes=9))
    assert (got.sequence, got.issued_at) == (6, NOW + timedelta(minutes=8))
    assert cache.all() == [
        CachedDirectory("51", 6, NOW + timedelta(minutes=8), NOW + timedelta(minutes=8) + DEFAULT_TTL)
    ]


def test_an_invalid_offer_raises_and_leaves_the_cache_alone(store: HubStore) -> None:
    cache = PeerDirectoryCache(store.database)
    cache.offer("51", _at(5, NOW), HUB_51.public_key(), NOW)
    tampered = _at(9, NOW)
    tampered.body = _flip(tampered.body, 5)
    with pytest.raises(DirectorySignatureInvalid):
        cache.offer("51", tampered, HUB_51.public_key(), NOW)
    assert cache.get("51", HUB_51.public_key(), NOW).sequence == 5


def test_an_expired_directory_is_refused_by_get_but_returned_by_get_any(store: HubStore) -> None:
    cache = PeerDirectoryCache(store.database)
    cache.offer("51", _at(3, NOW), HUB_51.public_key(), NOW)
    later = NOW + DEFAULT_TTL + timedelta(seconds=1)
    with pytest.raises(PeerDirectoryExpired) as caught:
        cache.get("51", HUB_51.public_key(), later)
    assert caught.value.valid_until == NOW + DEFAULT_TTL
    assert "wait for a fresh one" in str(caught.value)
    history = cache.get_any("51", HUB_51.public_key())
    assert history.sequence == 3 and history.expired(later)
    assert len(history.keys) == 1


def test_a_cached_directory_under_a_replaced_hub_key_gives_way(store: HubStore) -> None:
    cache = PeerDirectoryCache(store.database)
    cache.offer("51", _at(9, NOW), HUB_51.public_key(), NOW)
    message = _directory_message(1)
    message.sequence = 1
    rekeyed = sign_document(message.SerializeToString(), "hub-51", HUB_OTHER)
    assert cache.offer("51", rekeyed, HUB_OTHER.public_key(), NOW).sequence == 1
    assert cache.get("51", HUB_OTHER.public_key(), NOW).sequence == 1
    with pytest.raises(DirectorySignatureInvalid):  # the old key no longer reads what is cached
        cache.get("51", HUB_51.public_key(), NOW)


def test_replicas_offering_at_once_keep_the_newest(store: HubStore, database_url: str) -> None:
    replicas = [HubStore(database_url) for _ in range(2)]
    documents = [_at(sequence, NOW) for sequence in range(1, 21)]

    def offer_all(replica: HubStore, order: list[federation_pb2.SignedDocument]) -> None:
        cache = PeerDirectoryCache(replica.database)
        for document in order:
            cache.offer("51", document, HUB_51.public_key(), NOW)

    try:
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(offer_all, replicas[0], documents),
                pool.submit(offer_all, replicas[1], documents[::-1]),
            ]
            for future in futures:
                future.result()
    finally:
        for replica in replicas:
            replica.dispose()
    assert PeerDirectoryCache(store.database).get("51", HUB_51.public_key(), NOW).sequence == 20
    assert len(PeerDirectoryCache(store.database).all()) == 1

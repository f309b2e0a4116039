"""Key validity is judged by the hub's receive time, not by the time a station writes into its
record: a back-dated record under an expired key is refused, a record from the future is refused
naming both times, and a record that waited in an outbox while its key was valid is accepted within
the stated grace. Enrolling an expired key, or one key for two stations, warns."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.envelope_check import EnvelopeLimits, KnownKey, RecordRejected, RejectionKind, verify_envelope
from hub.server import HubServer
from hub.store import HubStore
from protos.envelope import key_id_of, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import ingest_pb2
from tongjian.cli import main

_PRIVATE = Ed25519PrivateKey.generate()
_PUBLIC = _PRIVATE.public_key()
_KEY_ID = key_id_of("50-0001", _PUBLIC)
_NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
_LIMITS = EnvelopeLimits(clock_skew=timedelta(minutes=5), key_expiry_grace=timedelta(days=7))


def _key(**window: datetime) -> dict[str, KnownKey]:
    return {_KEY_ID: KnownKey(_KEY_ID, "50-0001", _PUBLIC, **window)}


def _record_at(make_record, finished_at: datetime, started_at: datetime | None = None):  # type: ignore[no-untyped-def]
    record = make_record(0)
    return dataclasses.replace(
        record, started_at=started_at or finished_at - timedelta(minutes=8), finished_at=finished_at
    )


def _check(record, keys: dict[str, KnownKey], received_at: datetime = _NOW):  # type: ignore[no-untyped-def]
    return verify_envelope(seal(record_to_bytes(record), _KEY_ID, _PRIVATE), keys, _LIMITS, received_at)


def test_a_key_enrolled_already_expired_does_not_accept_a_back_dated_record(make_record) -> None:  # type: ignore[no-untyped-def]
    keys = _key(valid_from=_NOW - timedelta(days=400), valid_until=_NOW - timedelta(days=30))
    back_dated = _record_at(make_record, _NOW - timedelta(days=31))
    with pytest.raises(RecordRejected) as rejected:
        _check(back_dated, keys)
    assert rejected.value.kind is RejectionKind.KEY_NOT_VALID
    assert "expired" in rejected.value.reason and "grace" in rejected.value.reason


def test_a_record_finished_in_the_future_is_refused_naming_both_times(make_record) -> None:  # type: ignore[no-untyped-def]
    future = datetime(2100, 1, 1, tzinfo=UTC)
    with pytest.raises(RecordRejected) as rejected:
        _check(_record_at(make_record, future, started_at=_NOW - timedelta(hours=1)), _key())
    assert rejected.value.kind is RejectionKind.TIME_IN_FUTURE
    assert "finished_at 2100-01-01T00:00:00+00:00" in rejected.value.reason
    assert _NOW.isoformat() in rejected.value.reason


def test_a_start_in_the_future_is_refused(make_record) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RecordRejected, match="started_at"):
        _check(_record_at(make_record, _NOW + timedelta(minutes=4), _NOW + timedelta(hours=2)), _key())


def test_a_clock_a_little_ahead_is_within_the_skew_allowance(make_record) -> None:  # type: ignore[no-untyped-def]
    _check(_record_at(make_record, _NOW + timedelta(minutes=4)), _key())


def test_a_record_that_waited_in_the_outbox_is_accepted_within_the_grace(make_record) -> None:  # type: ignore[no-untyped-def]
    keys = _key(valid_until=_NOW - timedelta(days=2))
    _check(_record_at(make_record, _NOW - timedelta(days=3)), keys)
    late = _key(valid_until=_NOW - timedelta(days=8))
    with pytest.raises(RecordRejected, match="grace"):
        _check(_record_at(make_record, _NOW - timedelta(days=9)), late)


def test_a_record_signed_after_its_key_expired_is_refused_even_within_the_grace(make_record) -> None:  # type: ignore[no-untyped-def]
    keys = _key(valid_until=_NOW - timedelta(days=2))
    with pytest.raises(RecordRejected, match="expired"):
        _check(_record_at(make_record, _NOW - timedelta(days=1)), keys)


async def test_the_hub_judges_by_its_injected_clock(
    hub_config, enrol, submit, make_record, station_key
) -> None:  # type: ignore[no-untyped-def]
    record = make_record(0)
    hub_now = record.finished_at - timedelta(hours=1)  # the station's clock runs an hour ahead
    async with HubServer(hub_config(clock=lambda: hub_now)) as hub:
        station = enrol(hub, station_key)
        outcome = await submit(hub.port, [station.seal(record)])
    assert outcome.acks[0].status == ingest_pb2.ACK_STATUS_REJECTED
    assert "in the future" in outcome.acks[0].reason and hub_now.isoformat() in outcome.acks[0].reason


def test_enrolling_an_expired_key_or_one_key_for_two_stations_warns(
    database_url: str, station_key, capsys, caplog
) -> None:  # type: ignore[no-untyped-def]
    store = HubStore(database_url)
    store.migrate()
    try:
        store.register_station("50-0001")
        store.register_station("50-0002")
        pem = station_key.public_path.read_bytes()
        enrolment = store.enrol_station_key("50-0001", pem, valid_until=datetime.now(UTC) - timedelta(days=1))
        assert any("already expired" in w for w in enrolment.warnings)
        again = store.enrol_station_key("50-0002", pem)
        assert any("also enrolled for station '50-0001'" in w for w in again.warnings)
    finally:
        store.dispose()
    assert "already expired" in caplog.text


def test_cli_prints_enrolment_warnings(tmp_path, station_key, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    pem = str(station_key.public_path)
    args = ["--key", pem, "--valid-until", "2020-01-01T00:00:00", "--database-url", url]
    assert main(["hub", "stations", "add", "50-0001", *args]) == 0
    assert "warning: key" in capsys.readouterr().out
    assert main(["hub", "stations", "add", "50-0002", "--key", pem, "--database-url", url]) == 0
    assert "also enrolled for station '50-0001'" in capsys.readouterr().out

"""Station to hub over mutual TLS with certificates from ``tongjian pki``: delivered exactly once,
strangers refused, and a station that carries another station's records turned away.

Everything here is real: the hub (``HubServer`` on the parametrized database), the station's
outbox and uplink, the certificates issued by ``pki.authority``, and the fault proxy's TCP resets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from hub.server import HubConfig, HubServer, HubTls
from inspection import InspectionRecord
from pki.authority import IssuedFiles, Role, init_ca, issue
from pki.grpc_credentials import channel_credentials
from protos.record_mapping import record_to_bytes
from station_agent.outbox import OutboxStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink
from tests.fault_proxy import FaultProxy, Mode

RecordFactory = Callable[..., InspectionRecord]


@dataclass(frozen=True)
class Certificates:
    ca_cert: Path
    hub: IssuedFiles
    station: IssuedFiles  # CN = the test station's id
    other_station: IssuedFiles  # CN = another station's id, same CA
    stranger: IssuedFiles  # the test station's id, but from another CA


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    root = tmp_path_factory.mktemp("mtls")
    ca = init_ca(root / "ca", "Tongjian delivery test CA")
    init_ca(root / "other-ca", "Not our CA")
    return Certificates(
        ca_cert=ca.cert_path,
        hub=issue(root / "ca", Role.HUB, "hub-50", root / "hub"),
        station=issue(root / "ca", Role.STATION, "50-0001", root / "station"),
        other_station=issue(root / "ca", Role.STATION, "50-0002", root / "other-station"),
        stranger=issue(root / "other-ca", Role.STATION, "50-0001", root / "stranger"),
    )


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[OutboxStore]:
    store = OutboxStore(tmp_path / "outbox.sqlite3", max_depth=10_000)
    yield store
    store.close()


@pytest.fixture
async def tls_hub(
    database_url: str, certificates: Certificates, signer: RecordSigner, station_key
) -> AsyncIterator[HubServer]:  # type: ignore[no-untyped-def]
    """A hub that only talks mTLS, with certificates from our CA; the test station is enrolled."""
    hub_files = certificates.hub
    tls = HubTls(
        cert_pem=hub_files.cert_path.read_bytes(),
        key_pem=hub_files.key_path.read_bytes(),
        client_ca_pem=hub_files.ca_cert_path.read_bytes(),
    )
    async with HubServer(HubConfig(database_url=database_url, tls=tls, insecure_ok=False)) as hub:
        hub.store.register_station(signer.station_id)
        assert (
            hub.store.add_station_key(signer.station_id, station_key.public_path.read_bytes())
            == signer.key_id
        )
        yield hub


def credentials_of(certificates: Certificates, who: IssuedFiles) -> grpc.ChannelCredentials:
    # The station trusts our CA for the hub whatever its own certificate is.
    return channel_credentials(certificates.ca_cert, who.cert_path, who.key_path)


def tls_uplink(
    outbox: OutboxStore, target: str, credentials: grpc.ChannelCredentials, **options: float
) -> Uplink:
    settings: dict[str, float] = {"backoff_min_s": 0.05, "backoff_max_s": 0.3, "poll_interval_s": 0.1}
    settings.update(options)
    return Uplink(outbox, target, channel_credentials=credentials, insecure=False, **settings)  # type: ignore[arg-type]


def fill(outbox: OutboxStore, signer: RecordSigner, records: list[InspectionRecord]) -> None:
    for record in records:
        outbox.put(signer.seal(record), str(record.record_id))


def assert_stored_exactly_as_signed(hub: HubServer, records: list[InspectionRecord]) -> None:
    assert hub.store.count_records() == len(records)
    for record in records:
        stored = hub.store.get_record(str(record.record_id))
        assert stored is not None and stored.payload == record_to_bytes(record)


async def test_a_station_with_its_certificate_delivers_every_record_once(
    tls_hub: HubServer,
    certificates: Certificates,
    outbox: OutboxStore,
    signer: RecordSigner,
    make_record: RecordFactory,
) -> None:
    records = [make_record(i) for i in range(100)]
    fill(outbox, signer, records)
    uplink = tls_uplink(
        outbox, f"127.0.0.1:{tls_hub.port}", credentials_of(certificates, certificates.station)
    )
    await uplink.start()
    try:
        assert await uplink.drain(timeout=20)
    finally:
        await uplink.stop()
    assert_stored_exactly_as_signed(tls_hub, records)
    assert (uplink.sent, uplink.accepted, uplink.duplicate, uplink.rejected) == (100, 100, 0, 0)


@pytest.mark.parametrize("client", ["stranger", "no certificate"])
async def test_a_station_without_a_certificate_of_our_ca_gets_nothing_in(
    tls_hub: HubServer,
    certificates: Certificates,
    outbox: OutboxStore,
    signer: RecordSigner,
    make_record: RecordFactory,
    client: str,
) -> None:
    fill(outbox, signer, [make_record(i) for i in range(5)])
    credentials = (
        credentials_of(certificates, certificates.stranger)
        if client == "stranger"
        else grpc.ssl_channel_credentials(root_certificates=certificates.ca_cert.read_bytes())
    )
    uplink = tls_uplink(outbox, f"127.0.0.1:{tls_hub.port}", credentials, connect_timeout_s=0.5)
    await uplink.start()
    try:
        assert not await uplink.drain(timeout=1.5)
    finally:
        await uplink.stop()
    assert uplink.connect_failures >= 1 and uplink.sent == 0
    assert outbox.depth() == 5 and outbox.rejected() == []  # nothing lost: the records wait
    assert tls_hub.store.count_records() == 0


async def test_a_station_carrying_another_stations_records_is_rejected(
    tls_hub: HubServer,
    certificates: Certificates,
    outbox: OutboxStore,
    signer: RecordSigner,
    make_record: RecordFactory,
) -> None:
    # Correctly signed by station 50-0001's key, but sent by the holder of 50-0002's certificate.
    fill(outbox, signer, [make_record(i) for i in range(3)])
    uplink = tls_uplink(
        outbox, f"127.0.0.1:{tls_hub.port}", credentials_of(certificates, certificates.other_station)
    )
    await uplink.start()
    try:
        assert await uplink.drain(timeout=10)
    finally:
        await uplink.stop()
    assert (uplink.accepted, uplink.rejected) == (0, 3)
    parked = outbox.rejected()
    assert len(parked) == 3
    for entry in parked:
        assert "client certificate" in entry.reason and "50-0002" in entry.reason
    assert tls_hub.store.count_records() == 0


@pytest.mark.slow
async def test_resets_and_a_stall_on_the_tls_path_lose_and_duplicate_nothing(
    tls_hub: HubServer,
    certificates: Certificates,
    outbox: OutboxStore,
    signer: RecordSigner,
    make_record: RecordFactory,
) -> None:
    records = [make_record(i) for i in range(300)]
    fill(outbox, signer, records)
    # Every connection is reset after 60 kB from the station: handshake plus a few dozen records.
    async with FaultProxy("127.0.0.1", tls_hub.port, cut_after_bytes=60_000) as proxy:
        uplink = tls_uplink(
            outbox,
            proxy.address,
            credentials_of(certificates, certificates.station),
            window=16,
            ack_timeout_s=0.5,
            connect_timeout_s=1.0,
        )
        await uplink.start()
        try:
            async with asyncio.timeout(30):
                while tls_hub.store.count_records() < 100:
                    await asyncio.sleep(0.01)
            # The network goes silent with records in flight; the watchdog gives up on the stream.
            proxy.mode = Mode.STALL
            async with asyncio.timeout(30):
                while "no Ack" not in (uplink.last_error or ""):
                    await asyncio.sleep(0.01)
            proxy.mode = Mode.PASS
            assert await uplink.drain(timeout=30)
        finally:
            await uplink.stop()
    assert proxy.resets >= 2, "the proxy should have cut several TLS streams"
    assert_stored_exactly_as_signed(tls_hub, records)
    assert uplink.reconnects >= 2 and uplink.sent > len(records)  # records were sent again after resets
    # Each record settled exactly once: ACCEPTED the first time the hub had it, or DUPLICATE when
    # its Ack was lost in a reset and the station sent it again.
    assert uplink.accepted + uplink.duplicate == len(records) and uplink.rejected == 0
    assert outbox.depth() == 0 and outbox.rejected() == []

"""The station asks the hub about its signing key before it signs anything, and pauses delivery
while the hub refuses the key.

Everything is real: the hub (``HubServer`` on the parametrized database, with mTLS from
``pki.authority`` where the station's identity matters), the station (``Station``), its outbox and
uplink, and its metrics endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.server import HubConfig, HubServer, HubTls
from inspection import InspectionRecord
from pki.authority import IssuedFiles, Role, init_ca, issue
from station_agent.hub_check import EnrollmentState, HubUnreachable, SigningKeyRefused
from station_agent.record_signer import RecordSigner
from station_agent.station import Station, StationSettings, StationTls

RecordFactory = Callable[..., InspectionRecord]
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Certificates:
    ca_cert: Path
    hub: IssuedFiles
    station: IssuedFiles  # CN 50-0001, the test station
    other_station: IssuedFiles  # CN 50-0002
    person: IssuedFiles  # CN 50-0001 but role person: not a station


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    root = tmp_path_factory.mktemp("enrollment-pki")
    ca = init_ca(root / "ca", "enrollment test CA")
    return Certificates(
        ca_cert=ca.cert_path,
        hub=issue(root / "ca", Role.HUB, "hub-50", root / "hub"),
        station=issue(root / "ca", Role.STATION, "50-0001", root / "station"),
        other_station=issue(root / "ca", Role.STATION, "50-0002", root / "other"),
        person=issue(root / "ca", Role.PERSON, "50-0001", root / "person"),
    )


@pytest.fixture
async def tls_hub(database_url: str, certificates: Certificates) -> AsyncIterator[HubServer]:
    files = certificates.hub
    tls = HubTls(files.cert_path.read_bytes(), files.key_path.read_bytes(), files.ca_cert_path.read_bytes())
    async with HubServer(HubConfig(database_url=database_url, tls=tls, insecure_ok=False)) as hub:
        yield hub


def station_settings(
    tmp_path: Path,
    station_key: object,
    hub: HubServer,
    who: IssuedFiles | None,
    ca: Path | None,
    **more: object,
) -> StationSettings:
    tls = None if who is None or ca is None else StationTls.from_files(ca, who.cert_path, who.key_path)
    values: dict[str, object] = {
        "station_id": station_key.station_id,  # type: ignore[attr-defined]
        "signing_key": station_key.private_path,  # type: ignore[attr-defined]
        "outbox_path": tmp_path / "outbox.sqlite3",
        "hub_target": f"localhost:{hub.port}",
        "tls": tls,
        "insecure": tls is None,
        "uplink_backoff_max_s": 0.3,
    }
    values.update(more)
    return StationSettings(**values)  # type: ignore[arg-type]


def enrol(hub: HubServer, station_key: object, **window: datetime) -> str:
    hub.store.register_station("50-0001")
    return hub.store.add_station_key("50-0001", station_key.public_path.read_bytes(), **window)  # type: ignore[attr-defined]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


async def test_an_enrolled_key_starts_the_agent_on_its_certificates_identity(
    tmp_path: Path,
    station_key: object,
    tls_hub: HubServer,
    certificates: Certificates,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enrol(tls_hub, station_key)
    caplog.set_level(logging.INFO)
    settings = station_settings(tmp_path, station_key, tls_hub, certificates.station, certificates.ca_cert)
    async with Station(settings):
        pass
    assert "is enrolled and valid (station 50-0001)" in caplog.text
    assert "cannot authenticate" not in caplog.text


@pytest.mark.parametrize("refusal", ["unknown", "revoked", "expired", "not yet valid"])
async def test_a_refused_key_stops_the_agent_before_the_outbox_or_any_lane_opens(
    refusal: str, tmp_path: Path, station_key: object, tls_hub: HubServer, certificates: Certificates
) -> None:
    now = datetime.now(UTC)
    if refusal == "revoked":
        tls_hub.store.revoke_key(enrol(tls_hub, station_key), now - timedelta(seconds=1))
    elif refusal == "expired":
        enrol(tls_hub, station_key, valid_from=now - timedelta(days=30), valid_until=now - timedelta(days=1))
    elif refusal == "not yet valid":
        enrol(tls_hub, station_key, valid_from=now + timedelta(days=1))
    settings = station_settings(tmp_path, station_key, tls_hub, certificates.station, certificates.ca_cert)
    with pytest.raises(SigningKeyRefused) as raised:
        async with Station(settings):
            pytest.fail("the station started with a key the hub refuses")
    assert (
        raised.value.enrollment.state
        is {
            "unknown": EnrollmentState.UNKNOWN_KEY,
            "revoked": EnrollmentState.REVOKED,
            "expired": EnrollmentState.EXPIRED,
            "not yet valid": EnrollmentState.NOT_YET_VALID,
        }[refusal]
    )
    assert refusal.split()[0] in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not settings.outbox_path.exists()  # nothing was opened, let alone signed


async def test_a_certificate_of_another_station_stops_the_agent(
    tmp_path: Path, station_key: object, tls_hub: HubServer, certificates: Certificates
) -> None:
    enrol(tls_hub, station_key)
    settings = station_settings(
        tmp_path, station_key, tls_hub, certificates.other_station, certificates.ca_cert
    )
    with pytest.raises(SigningKeyRefused, match=r"certificate is for station '50-0002'.*'50-0001'"):
        async with Station(settings):
            pytest.fail("the station started with another station's certificate")


async def test_a_certificate_whose_role_is_not_station_stops_the_agent_naming_the_refusal(
    tmp_path: Path, station_key: object, tls_hub: HubServer, certificates: Certificates
) -> None:
    # Before: the hub's PERMISSION_DENIED was diagnosed as "timed out" and the agent started anyway.
    enrol(tls_hub, station_key)
    settings = station_settings(tmp_path, station_key, tls_hub, certificates.person, certificates.ca_cert)
    with pytest.raises(HubUnreachable, match=r"refuses this client certificate.*role 'person'"):
        async with Station(settings):
            pytest.fail("the station started on a person's certificate")


async def test_without_mtls_the_hub_takes_the_station_id_on_trust_and_the_warning_says_so(
    tmp_path: Path, station_key: object, caplog: pytest.LogCaptureFixture
) -> None:
    async with HubServer(HubConfig(database_url=f"sqlite:///{tmp_path}/hub.sqlite3")) as hub:
        enrol(hub, station_key)
        async with Station(station_settings(tmp_path, station_key, hub, None, None)):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("took station id 50-0001 from the request" in w for w in warnings), warnings


async def test_agent_run_says_in_one_line_that_the_hub_refuses_the_key(
    tmp_path: Path, station_key: object, tls_hub: HubServer, certificates: Certificates
) -> None:
    tls_hub.store.revoke_key(enrol(tls_hub, station_key))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tongjian", "agent", "run", "--station-id", "50-0001",
        "--signing-key", str(station_key.private_path),  # type: ignore[attr-defined]
        "--outbox", str(tmp_path / "outbox.sqlite3"), "--hub", f"localhost:{tls_hub.port}",
        "--ca", str(certificates.ca_cert), "--cert", str(certificates.station.cert_path),
        "--key", str(certificates.station.key_path), "--log-level", "ERROR",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, stderr
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "revoked" in lines[0] and "50-0001/" in lines[0]
    assert b"agent ready" not in stdout


async def test_a_key_the_hub_starts_refusing_pauses_the_uplink_until_it_is_enrolled_again(
    tmp_path: Path, station_key: object, make_record: RecordFactory, free_tcp_port: int
) -> None:
    first = HubConfig(database_url=f"sqlite:///{tmp_path}/first.sqlite3", listen=f"127.0.0.1:{free_tcp_port}")
    async with HubServer(first) as hub:
        enrol(hub, station_key)
        settings = station_settings(tmp_path, station_key, hub, None, None, metrics_listen="127.0.0.1:0")
        station = Station(settings)
        await station.__aenter__()
    try:
        # The hub comes back on a rebuilt database that does not know the station's key yet.
        rebuilt = HubConfig(database_url=f"sqlite:///{tmp_path}/rebuilt.sqlite3", listen=first.listen)
        async with HubServer(rebuilt) as hub:
            records = [make_record(i) for i in range(5)]
            for record in records:
                await station.agent.submit(record)
            async with asyncio.timeout(20):
                while station.uplink.signing_key_refused is None:
                    await asyncio.sleep(0.02)
            assert station.uplink.signing_key_refused.state is EnrollmentState.UNKNOWN_KEY
            assert station.metrics.port is not None
            text = await asyncio.to_thread(scrape, station.metrics.port)
            assert "tongjian_agent_signing_key_refused 1.0" in text
            assert station.outbox.depth() == 5  # every record waits in the outbox...
            assert station.outbox.rejected() == []  # ...none was parked as a dead letter
            assert hub.store.count_records() == 0

            enrol(hub, station_key)
            assert await station.uplink.drain(timeout=20)
            assert station.uplink.signing_key_refused is None
            assert hub.store.count_records() == 5
            text = await asyncio.to_thread(scrape, station.metrics.port)
            assert "tongjian_agent_signing_key_refused 0.0" in text
            assert station.outbox.rejected() == []
    finally:
        await station.__aexit__(None, None, None)


async def test_a_record_signed_outside_the_keys_window_is_parked_while_the_key_stays_enrolled(
    tmp_path: Path, station_key: object, make_record: RecordFactory, signer: RecordSigner
) -> None:
    async with HubServer(HubConfig(database_url=f"sqlite:///{tmp_path}/hub.sqlite3")) as hub:
        # Valid from a minute ago: the key is good now, but the test records finished days before.
        enrol(hub, station_key, valid_from=datetime.now(UTC) - timedelta(minutes=1))
        settings = station_settings(tmp_path, station_key, hub, None, None)
        async with Station(settings) as station:
            await station.agent.submit(make_record(1))
            assert await station.uplink.drain(timeout=20)
            assert station.uplink.signing_key_refused is None
            (parked,) = station.outbox.rejected()
            assert "valid from" in parked.reason
            assert station.uplink.rejected == 1


async def test_a_key_enrolled_for_another_station_is_named_as_a_mismatch(
    tmp_path: Path, station_key: object, tls_hub: HubServer, certificates: Certificates
) -> None:
    tls_hub.store.register_station("50-0002")
    tls_hub.store.add_station_key("50-0002", station_key.public_path.read_bytes())  # type: ignore[attr-defined]
    settings = station_settings(tmp_path, station_key, tls_hub, certificates.station, certificates.ca_cert)
    with pytest.raises(
        SigningKeyRefused, match="this signing key is enrolled for station '50-0002', not '50-0001'"
    ):
        async with Station(settings):
            pytest.fail("the station started with a key the hub holds for another station")

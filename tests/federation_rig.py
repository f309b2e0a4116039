"""Two (or more) province hubs in one test: keys, a national trust list, stations, vehicles.

``ProvinceHub`` is one running hub with its own database; ``national_trust_list`` signs a list
naming every hub (endpoint overridable, e.g. to put a fault proxy in between) and installs it
into every hub's database. Everything is real: gRPC servers on loopback ports the OS picks, the
hubs' own databases, Ed25519 keys made for the test.
"""

from __future__ import annotations

import dataclasses
import socket
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.forwarder import ForwarderSettings
from hub.review_screening import ReviewConfig
from hub.server import FederationConfig, HubConfig, HubServer, HubTls
from hub.store import HubStore
from hub.transfer_driver import TransferSettings
from hub.trust_list import NATIONAL_SIGNER, ProvinceHubEntry, build_trust_list
from inspection import InspectionRecord
from inspection.vehicle_register_csv import RegisterRow
from pki.authority import init_ca
from protos.envelope import key_id_of, load_private_key, seal
from protos.record_mapping import record_to_bytes
from protos.signed_document import sign_document
from protos.tongjian.v1 import federation_pb2
from tongjian.commands.keys import write_key_pair

# Fast enough for tests: a link that fails retries within a second, a quiet one closes soon. The
# lease is long on purpose: an item a live hub leased and then lost track of would wait for it,
# and the tests' one-minute waits fail instead of passing late.
TEST_FORWARDER = ForwarderSettings(
    window=64,
    lease=timedelta(minutes=10),
    poll_s=0.2,
    idle_close_s=2.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.5,
    ack_timeout_s=10.0,
)
PROVINCE_NAMES = {"50": "Chongqing", "51": "Sichuan", "44": "Guangdong"}


@dataclass
class Station:
    station_id: str
    key_id: str
    private_pem: bytes

    def seal(self, record: InspectionRecord) -> bytes:
        return seal(
            record_to_bytes(record), self.key_id, load_private_key(self.private_pem)
        ).SerializeToString()


@dataclass
class ProvinceHub:
    province: str
    database_url: str
    national_public: object
    hub_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    listen: str = "127.0.0.1:0"
    settings: ForwarderSettings = TEST_FORWARDER
    directory_ttl: timedelta = timedelta(minutes=15)
    tls: HubTls | None = None  # serve with mTLS (stations' and peers' certificates)
    peer_identity: tuple[bytes, bytes] | None = None  # peer-hub certificate and key, to call peers
    audit_interval_s: float = 300.0  # audit checkpoints (signed with hub_key)
    witness_interval_s: float = 300.0  # showing them to the peers
    # Every record sampled for review and screened at once: tests that reject one need it queued.
    review: ReviewConfig = field(default_factory=lambda: ReviewConfig(sample_rate=1.0, settle=timedelta(0)))
    archive_transfer: TransferSettings | None = None  # archive transfers, archives kept here
    console_listen: str | None = None  # the staff console (hub.console), e.g. "127.0.0.1:0"
    trust_list_refresh_s: float = 5.0  # with TLS: how often it looks for a newly installed list
    server: HubServer | None = None

    def config(self) -> HubConfig:
        return HubConfig(
            database_url=self.database_url,
            listen=self.listen,
            province=self.province,
            tls=self.tls,
            review=self.review,
            audit_checkpoint_interval_s=self.audit_interval_s,
            witness_interval_s=self.witness_interval_s,
            archive_transfer=self.archive_transfer,
            console_listen=self.console_listen,
            federation=FederationConfig(
                hub_key=self.hub_key,
                national_key=self.national_public,  # type: ignore[arg-type]
                peer_cert_pem=self.peer_identity[0] if self.peer_identity else None,
                peer_key_pem=self.peer_identity[1] if self.peer_identity else None,
                directory_ttl=self.directory_ttl,
                forwarder=self.settings,
                trust_list_refresh_s=self.trust_list_refresh_s,
            ),
        )

    async def start(self) -> HubServer:
        self.server = HubServer(self.config())
        await self.server.start()
        # Restarts come back on the same port, so the trust list's endpoint stays right.
        self.listen = f"127.0.0.1:{self.server.port}"
        return self.server

    async def stop(self, grace: float | None = 0.5) -> None:
        if self.server is not None:
            await self.server.stop(grace)
            self.server = None

    @property
    def hub(self) -> HubServer:
        assert self.server is not None, "hub not started"
        return self.server

    @property
    def endpoint(self) -> str:
        return self.listen if self.server is None else f"127.0.0.1:{self.hub.port}"

    def enrol_station(self, station_id: str, directory: Path) -> Station:
        private_path, public_path, key_id = write_key_pair(station_id, directory / station_id)
        self.hub.store.register_station(station_id, province=self.province)
        assert self.hub.store.add_station_key(station_id, public_path.read_bytes()) == key_id
        return Station(station_id, key_id, private_path.read_bytes())

    def register_vehicles(self, records: Sequence[InspectionRecord]) -> None:
        rows = [RegisterRow(line, record.vehicle, f"owner-{line}") for line, record in enumerate(records, 2)]
        report = self.hub.store.vehicles.import_rows(rows, self.province)
        assert not report.bad, report.bad


@dataclass
class National:
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    version: int = 0

    @property
    def public(self) -> object:
        return self.key.public_key()

    def publish(
        self,
        hubs: Sequence[ProvinceHub],
        endpoints: Mapping[str, str] | None = None,
        peer_cas: Mapping[str, bytes] | None = None,
        install_at: Sequence[ProvinceHub] | None = None,
    ) -> federation_pb2.SignedDocument:
        """Sign a new trust list naming ``hubs`` and install it at each (running or not), or only
        at ``install_at``."""
        self.version += 1
        now = datetime.now(UTC)
        entries = [
            ProvinceHubEntry.create(
                hub.province,
                PROVINCE_NAMES.get(hub.province, hub.province),
                (endpoints or {}).get(hub.province) or hub.endpoint,
                f"hub-{hub.province}.peer",
                (peer_cas or {}).get(hub.province, _TEST_CA_PEM),
                hub.hub_key.public_key(),
            )
            for hub in hubs
        ]
        body = build_trust_list(self.version, entries, now - timedelta(minutes=1), now + timedelta(days=30))
        document = sign_document(body, NATIONAL_SIGNER, self.key)
        for hub in hubs if install_at is None else install_at:
            if hub.server is not None:
                hub.hub.store.trust_lists.install(document, self.key.public_key(), now)
                continue
            store = HubStore(hub.database_url)
            try:
                store.migrate()
                store.trust_lists.install(document, self.key.public_key(), now)
            finally:
                store.dispose()
        return document


def with_registration(record: InspectionRecord, province: str, plate_prefix: str) -> InspectionRecord:
    """``record`` of a vehicle registered in ``province`` (plate with that province's prefix)."""
    vehicle = dataclasses.replace(
        record.vehicle, registration_province=province, plate=plate_prefix + record.vehicle.plate[1:]
    )
    return dataclasses.replace(record, vehicle=vehicle)


def free_port() -> int:
    """A port free now, for a hub whose address must be in a trust list before it starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_key_id(hub: ProvinceHub) -> str:
    return key_id_of(f"hub-{hub.province}", hub.hub_key.public_key())


def new_record_id() -> uuid.UUID:
    return uuid.uuid4()


def _make_test_ca() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        return init_ca(Path(directory)).cert_path.read_bytes()


_TEST_CA_PEM = _make_test_ca()

"""The hub process: configuration, and the grpc.aio server that serves ingest, review, health and
reflection (and, in a federation, the peer exchange).

``HubServer`` is an async context manager: entering migrates the database, starts the group
committer, the gRPC server and (if asked) the metrics endpoint; leaving stops taking new
streams, lets streams in flight finish for ``grace`` seconds, commits everything already handed
to the committer, and closes the database.

Transport security: with ``tls`` the hub requires a client certificate signed by
``client_ca_pem`` (mTLS) and holds every record's station id to the certificate's common name.
With federation it also admits the peer provinces' ``peer-hub`` certificates, by the CAs the
trust list in force names; a newer list applies without a restart (``hub.peer_trust_anchors``).
Without it the hub serves plaintext and says so loudly in the log; the CLI refuses to do that
unless told ``--insecure``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from elabel.keys import HubLabelKey
from hub.access import RPC_ROLES, RoleGate
from hub.archive_transfer_service import start_archive_transfer
from hub.audit_checkpoint import CheckpointKey
from hub.cached_reading import CachedReading
from hub.checkpointer import Checkpointer
from hub.countersign import Countersigner, HubIdentity
from hub.enrollment_service import register_enrollment_service
from hub.envelope_check import EnvelopeLimits
from hub.errors import HubConfigError
from hub.exemption import LocalRegistration
from hub.forwarder import ChannelFactory, Forwarder, ForwarderSettings
from hub.group_commit import GroupCommitter
from hub.ingest_service import SERVICE_NAME, StationIngestService
from hub.key_directory import KeyDirectory
from hub.label_book import LabelBook, LabelRegistry
from hub.label_federation import LabelRegistrations
from hub.label_issuer import LabelIssuer
from hub.label_service import SERVICE_NAME as LABELS_SERVICE_NAME
from hub.label_service import register_label_service
from hub.metrics import HubMetrics
from hub.notice_service import register_notice_service
from hub.peer_exchange import SERVICE_NAME as PEER_EXCHANGE
from hub.peer_exchange import PeerExchangeService, PeerExchangeSettings
from hub.peer_trust_anchors import PeerTrustAnchors
from hub.rate_limit import StationRateLimiter
from hub.record_checker import CheckMode, RecordChecker
from hub.rejection_effects import forward_rejection, notify_station, revoke_label
from hub.review_queue import RejectionHook, ReviewConfig, ReviewQueue, screen_periodically
from hub.review_service import SERVICE_NAME as REVIEW_SERVICE
from hub.review_service import register_review_service
from hub.store import HubStore
from hub.transfer_desk import TransferDesk
from hub.transfer_driver import TransferDriver, TransferSettings
from hub.trust_list import ProvinceHubEntry, hub_signer
from hub.vehicle_standing import StandingBook
from hub.verdict import VerdictJudge
from hub.witnesser import Witnesser
from inspection import InspectionRecord, Verdict
from inspection.record_limits import MAX_COUNT, Part
from pki.grpc_credentials import (
    channel_credentials,
    reloading_server_credentials,
    server_credentials,
    server_identity,
)
from protos.server_port import SERVER_OPTIONS, listen
from protos.tongjian.v1 import federation_pb2

if TYPE_CHECKING:
    from web_serving.asgi_server import AsgiServer

log = logging.getLogger(__name__)

MiB = 1024 * 1024
SQLITE_SCREEN_BATCH = 10  # records per review-screening transaction on SQLite


@dataclass(frozen=True, slots=True)
class HubTls:
    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes


@dataclass(frozen=True, slots=True)
class FederationConfig:
    """What a hub needs to take part in the cross-province network (docs/design/federation.md)."""

    hub_key: Ed25519PrivateKey  # signs this province's station directory and countersignatures
    national_key: Ed25519PublicKey  # checks the national trust list
    # This hub's peer-hub certificate and key, presented when it calls a peer (with TLS); the
    # peer's CA comes from the trust list. None: peers are called in plaintext (tests, demos).
    peer_cert_pem: bytes | None = None
    peer_key_pem: bytes | None = None
    directory_ttl: timedelta = timedelta(minutes=15)  # the revocation bound at peers
    forwarder: ForwarderSettings = field(default_factory=ForwarderSettings)
    # With TLS: how often the hub looks for a trust list installed by another process (the CLI,
    # another replica), so that new TLS handshakes trust the peer CAs it names
    # (hub.peer_trust_anchors; calls with a peer-hub certificate see a new list at once).
    trust_list_refresh_s: float = 5.0


@dataclass(frozen=True, slots=True)
class HubConfig:
    database_url: str
    listen: str = "127.0.0.1:0"
    province: str = "50"
    max_message_bytes: int = 4 * MiB  # gRPC ends a stream with a larger message: RESOURCE_EXHAUSTED
    max_record_bytes: int = 1 * MiB  # a larger record is answered REJECTED
    max_photos_per_record: int = 32
    clock_skew: timedelta = timedelta(minutes=5)  # see hub.envelope_check, "Trusted time"
    key_expiry_grace: timedelta = timedelta(days=7)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the hub's receive time
    station_rate_per_s: float | None = None  # over it: stream ends with RESOURCE_EXHAUSTED
    rate_clock: Callable[[], float] = time.monotonic  # the rate limiter's clock (tests freeze it)
    group_commit_max: int = 256
    group_commit_wait_ms: float = 2.0
    metrics_listen: str | None = None  # "host:port", port 0 = any
    tls: HubTls | None = None
    insecure_ok: bool = True
    judge: Callable[[InspectionRecord], Verdict] | None = None
    key_cache_ttl_s: float = 2.0  # how long another replica's key change may take to apply here
    # Bytes of records read but not yet answered, over all streams; past it the hub stops reading
    # and gRPC flow control slows the stations down.
    max_inflight_bytes: int = 256 * MiB
    # Batches in a row that stored nothing before health says NOT_SERVING (see GroupCommitter).
    writer_max_consecutive_failures: int = 3
    # True: bring the schema to the newest revision on start (embedded use, tests). The CLI's
    # ``hub serve`` passes False: it refuses a schema that is not current (``tongjian hub migrate``).
    migrate_schema: bool = True
    # Signs the audit log's checkpoints (hub.audit_checkpoint). None: the hub writes none, and
    # says so at start.
    audit_key: Ed25519PrivateKey | None = None
    audit_checkpoint_interval_s: float = 300.0  # a checkpoint this often, if the log grew
    # With federation: show the newest checkpoint to every peer of the trust list this often
    # (and at once after each new checkpoint).
    witness_interval_s: float = 300.0
    # The hub's Ed25519 key for e-labels (elabel): with it the hub issues a label for every passed
    # record and serves the Labels service; without it, neither.
    label_key: Ed25519PrivateKey | None = None
    label_issue_interval_s: float = 1.0
    # With federation: archive transfers between provinces (hub.archive_transfer_service), with
    # the archives in transit under its archive_dir. None: this hub takes part in none.
    archive_transfer: TransferSettings | None = None
    # How long after receipt a record's seq may still be overtaken by a slower commit (hub.label_book).
    label_settle_s: float = 30.0
    federation: FederationConfig | None = None  # None: a hub on its own, forwarding nothing
    # Post-review (hub.review_queue): the queue's settings (its province is this hub's), and how
    # often this process screens new records and sweeps leases; None: it does not (another
    # replica or ``hub serve`` does). Reviewers are served either way.
    review: ReviewConfig = field(default_factory=ReviewConfig)
    review_screen_interval_s: float | None = None
    # Where parse, verify and judge run (hub.record_checker): threads, processes or inline.
    check_mode: CheckMode = CheckMode.THREADS
    check_workers: int | None = None  # None: the number of CPUs, at least 2
    check_batch_max: int = 32
    # The staff console (hub.console) on "host:port" (port 0 = any), in this process over the same
    # review queue, labels and store as the gRPC services; None: no console.
    console_listen: str | None = None
    console_session_ttl: timedelta = timedelta(hours=8)
    # HTTPS for the console (PEM files); None: plain HTTP, for a console behind a TLS-terminating
    # proxy or on a closed network (its cookies are then not marked Secure).
    console_tls: tuple[Path, Path] | None = None


def freeze_startup_heap() -> None:
    """For a process that is a hub and nothing else, once it serves: move everything allocated so
    far (modules, the ORM's metadata, protobuf descriptors, the station directory) out of the
    garbage collector's reach. A full collection otherwise walks all of it and stalled ingest by
    50-160 ms a few times a minute under load (measured with gc.callbacks in the ingest benchmark),
    the largest part of the hub's p99 Ack latency. Not for a process that starts many hubs (tests):
    what is frozen is never collected as a cycle."""
    gc.collect()
    gc.freeze()


def split_host_port(address: str, what: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise HubConfigError(f"{what} {address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class HubServer:
    """The hub process. It owns everything it starts (an exit stack, unwound in reverse order):
    a start that fails half-way - a port in use - stops what it had started and leaves no task
    running; ``stop`` unwinds the same stack after draining the streams."""

    def __init__(self, config: HubConfig, store: HubStore | None = None) -> None:
        if config.tls is None and not config.insecure_ok:
            raise HubConfigError("no TLS configured and insecure_ok is False")
        if config.max_record_bytes > config.max_message_bytes:
            raise HubConfigError("max_record_bytes must not exceed max_message_bytes")
        if not 0.05 <= config.witness_interval_s <= 86400:
            raise HubConfigError(
                f"witness_interval_s {config.witness_interval_s:g} must be 0.05..86400 seconds"
            )
        if not 0.05 <= config.audit_checkpoint_interval_s <= 86400:
            raise HubConfigError(
                f"audit_checkpoint_interval_s {config.audit_checkpoint_interval_s:g} must be 0.05..86400 seconds"
            )
        if not 0 <= config.max_photos_per_record <= MAX_COUNT[Part.PHOTOS]:
            raise HubConfigError(
                f"max_photos_per_record {config.max_photos_per_record} must be 0..{MAX_COUNT[Part.PHOTOS]} "
                "(inspection.record_limits: what a station may put in one record)"
            )
        if config.review_screen_interval_s is not None and config.review_screen_interval_s <= 0:
            raise HubConfigError(
                f"review_screen_interval_s {config.review_screen_interval_s} must be positive"
            )
        if config.federation is not None and not 0.05 <= config.federation.trust_list_refresh_s <= 3600:
            raise HubConfigError(
                f"trust_list_refresh_s {config.federation.trust_list_refresh_s:g} must be 0.05..3600 seconds"
            )
        if config.federation is not None and config.label_key is not None:
            # Peers and verifiers know a federated hub's key from the trust list: labels signed
            # with any other key would verify nowhere.
            raise HubConfigError(
                "label_key is for a hub outside the federation; a federated hub signs with hub_key"
            )
        self.config = config
        self.store = store if store is not None else HubStore(config.database_url)
        self.metrics = HubMetrics()
        # A rejection, in its own transaction: the station is told, the record's label revoked,
        # and with federation the registration province told too (hub.rejection_effects).
        effects: list[RejectionHook] = [notify_station, revoke_label]
        if config.federation is not None:
            effects.append(forward_rejection(HubIdentity(config.province, config.federation.hub_key)))
        self.review = ReviewQueue(
            self.store.database,
            dataclasses.replace(
                config.review,
                province=config.province,
                # SQLite has one write lock for everything: short screening transactions.
                batch=min(config.review.batch, SQLITE_SCREEN_BATCH)
                if self.store.dialect == "sqlite"
                else config.review.batch,
            ),
            clock=config.clock,
            on_rejected=effects,
        )
        self._server: grpc.aio.Server | None = None
        self._port: int | None = None
        self._metrics_port: int | None = None
        self._health: HealthServicer | None = None
        self._running: _Running | None = None
        self._stop_grace: float | None = 1.0
        self._stopped = False
        self._checkpointer: Checkpointer | None = None
        self._witnesser: Witnesser | None = None
        self.labels: LabelBook | None = None
        self.label_issuer: LabelIssuer | None = None
        self._forwarder: Forwarder | None = None
        self._console: AsgiServer | None = None
        self.transfer_desk: TransferDesk | None = None  # archive transfers: the clerks' desk

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the hub is not started")
        return self._port

    @property
    def ingest(self) -> StationIngestService:
        """The running ingest service (its in-flight budget, its open streams)."""
        if self._running is None:
            raise RuntimeError("the hub is not started")
        return self._running.ingest

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_port

    @property
    def console_port(self) -> int | None:
        """The staff console's bound port (None without ``console_listen``)."""
        return self._console.port if self._console is not None else None

    async def __aenter__(self) -> HubServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start serving; raises ``PortInUse``, ``SchemaNotCurrent``, ... with nothing left running."""
        config = self.config
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self.store.dispose)
            if config.migrate_schema:
                self.store.migrate()
            else:
                self.store.check_schema()
            health = HealthServicer()
            self._health = health
            committer = GroupCommitter(
                self.store,
                self.metrics,
                config.group_commit_max,
                config.group_commit_wait_ms,
                config.writer_max_consecutive_failures,
                report_health=self._writer_health,
            )
            committer.start()
            stack.push_async_callback(_stop_step, "the group committer (last commits)", committer.close)
            rate_limiter = (
                StationRateLimiter(config.station_rate_per_s, clock=config.rate_clock)
                if config.station_rate_per_s is not None
                else None
            )
            limits = EnvelopeLimits(
                config.max_record_bytes,
                config.max_photos_per_record,
                config.clock_skew,
                config.key_expiry_grace,
            )
            judge = VerdictJudge(config.judge)
            checker = RecordChecker(
                limits,
                judge,
                config.check_mode,
                config.check_workers,
                config.check_batch_max,
                home_province=config.province,
            )
            stack.callback(checker.close)
            await checker.start()
            federation = config.federation
            identity = HubIdentity(config.province, federation.hub_key) if federation is not None else None
            service = StationIngestService(
                self.store,
                KeyDirectory(self.store, config.key_cache_ttl_s),
                committer,
                self.metrics,
                limits,
                judge,
                rate_limiter,
                require_certificate=config.tls is not None,
                max_inflight_bytes=config.max_inflight_bytes,
                clock=config.clock,
                countersigner=(
                    Countersigner(
                        identity, CachedReading(self.store.directory.sequence, ttl_s=2.0, initial=0)
                    )
                    if identity is not None
                    else None
                ),
                checker=checker,
            )
            # Unwound after the gRPC server stops and before the checker and the writer close.
            stack.push_async_callback(_stop_step, "the ingest streams' hand-over", service.hand_over_all)
            self.metrics.inflight_bytes.set_function(lambda: service.budget.used_bytes)
            anchors = self._peer_trust_anchors()
            interceptors = (
                [
                    RoleGate(
                        RPC_ROLES,
                        audit=self.store.append_audit,
                        home_cas=x509.load_pem_x509_certificates(config.tls.client_ca_pem),
                        peer_hubs=anchors.check_peer_hub if anchors is not None else None,
                    )
                ]
                if config.tls is not None
                else []
            )
            server = grpc.aio.server(options=_server_options(config), interceptors=interceptors)
            server.add_generic_rpc_handlers((service.rpc_handler(),))
            register_enrollment_service(server, self.store, require_certificate=config.tls is not None)
            register_notice_service(server, self.store, require_certificate=config.tls is not None)
            register_review_service(server, self.store, self.review, config.province)
            services = [SERVICE_NAME, REVIEW_SERVICE]
            if config.review_screen_interval_s is not None:
                screener = asyncio.create_task(
                    screen_periodically(self.review, config.review_screen_interval_s)
                )
                stack.push_async_callback(_cancel, screener)
            if federation is not None and identity is not None:
                peer_exchange = PeerExchangeService(
                    self.store,
                    PeerExchangeSettings(identity, federation.national_key, limits, federation.directory_ttl),
                    judge,
                    config.clock,
                    require_certificate=config.tls is not None,
                    metrics=self.metrics,
                )
                server.add_generic_rpc_handlers((peer_exchange.rpc_handler(),))
                services.append(PEER_EXCHANGE)
                forwarder = Forwarder(
                    self.store,
                    identity,
                    lambda: self.store.trust_lists.current(federation.national_key, config.clock()),
                    _peer_channels(federation),
                    self.metrics,
                    federation.forwarder,
                    config.clock,
                    offer_trust_list=lambda document: self._offer_trust_list(document, anchors),
                )
                committer.on_forwarding = forwarder.wake
                forwarder.start()
                # Pushed after the committer's close: unwinding stops the forwarder first.
                stack.push_async_callback(_stop_step, "the forwarder", forwarder.close)
                self._forwarder = forwarder
                if config.archive_transfer is not None:
                    self.transfer_desk, names = start_archive_transfer(
                        server,
                        stack,
                        self.store,
                        identity,
                        federation.national_key,
                        lambda: self.store.trust_lists.current(federation.national_key, config.clock()),
                        _peer_channels(federation),
                        config.archive_transfer,
                        require_certificate=config.tls is not None,
                    )
                    services.extend(names)
            label_key = federation.hub_key if federation is not None else config.label_key
            if label_key is not None:
                self.labels = LabelBook(
                    self.store.database,
                    HubLabelKey(config.province, label_key),
                    clock=config.clock,
                    settle=timedelta(seconds=config.label_settle_s),
                )
                local = LocalRegistration(self.store.vehicles, StandingBook(self.store.database), self.labels)
                trust = (
                    (lambda: self.store.trust_lists.current(federation.national_key, config.clock()))
                    if federation is not None
                    else (lambda: None)
                )
                channels = _peer_channels(federation) if federation is not None else None
                registrations = LabelRegistrations(config.province, local, trust, channels)
                register_label_service(
                    server, self.labels, registrations, registrations.peer_label_keys, self._trust_list_bytes
                )
                services.append(LABELS_SERVICE_NAME)
                self.label_issuer = LabelIssuer(self.labels, config.label_issue_interval_s)
                self.label_issuer.start()
                stack.push_async_callback(_stop_step, "the label issuer", self.label_issuer.close)
            health_pb2_grpc.add_HealthServicer_to_server(health, server)
            reflection.enable_server_reflection(
                (
                    *services,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                ),
                server,
            )
            if config.tls is not None:
                if anchors is not None:
                    # The peers' CAs follow the trust list in force (hub.peer_trust_anchors).
                    credentials = reloading_server_credentials(
                        anchors.initial_tls_configuration(), anchors.tls_configuration
                    )
                    watcher = asyncio.create_task(anchors.watch(), name="trust-list-watcher")
                    stack.push_async_callback(_cancel, watcher)
                else:
                    credentials = server_credentials(
                        config.tls.cert_pem, config.tls.key_pem, config.tls.client_ca_pem
                    )
                self._port = listen(server, config.listen, credentials)
            else:
                log.warning(
                    "WARNING: hub listening WITHOUT TLS on %s: station identity is not authenticated "
                    "and records travel in plaintext. Use only for tests and demos.",
                    config.listen,
                )
                self._port = listen(server, config.listen)
            await server.start()
            stack.push_async_callback(_stop_step, "the gRPC server", lambda: self._stop_server(server))
            self._server = server
            for name in ("", SERVICE_NAME):
                await health.set(name, health_pb2.HealthCheckResponse.SERVING)
            if config.metrics_listen is not None:
                host, port = split_host_port(config.metrics_listen, "metrics_listen")
                self._metrics_port = self.metrics.serve(host, port)
            stack.callback(self.metrics.close)
            self._start_checkpointer(stack)
            if config.console_listen is not None:
                await self._start_console(config.console_listen, stack)
            self._running = _Running(stack.pop_all(), health, service)
        log.info("hub for province %s serving on port %d", config.province, self._port)

    async def _start_console(self, listen_on: str, stack: contextlib.AsyncExitStack) -> None:
        # Imported here: a hub without a console does not load Starlette, Jinja2 and uvicorn.
        from hub.console.app import console_app
        from hub.console.sessions import SessionBook
        from hub.console.staff_directory import StaffDirectory
        from hub.console.web import ConsoleServices
        from web_serving.asgi_server import AsgiServer, HttpServerError

        config = self.config
        services = ConsoleServices(
            store=self.store,
            review=self.review,
            labels=self.labels
            if self.labels is not None
            else LabelRegistry(self.store.database, config.clock),
            province=config.province,
            staff=StaffDirectory(self.store.database),
            sessions=SessionBook(self.store.database, config.console_session_ttl, config.clock),
            national_key=config.federation.national_key if config.federation is not None else None,
            transfers=self.transfer_desk,
            clock=config.clock,
            secure_cookies=config.console_tls is not None,
        )
        host, port = split_host_port(listen_on, "console_listen")
        console = AsgiServer(console_app(services), host, port, what="console", tls=config.console_tls)
        try:
            await console.start()
        except HttpServerError as error:
            raise HubConfigError(str(error)) from error
        stack.push_async_callback(console.stop)
        self._console = console

    def _start_checkpointer(self, stack: contextlib.AsyncExitStack) -> None:
        key = self.audit_checkpoint_key
        if key is None:
            log.warning(
                "no audit signing key configured: this hub writes no audit checkpoints, and its "
                "audit log's past can be rewritten unnoticed by its peers"
            )
            return
        checkpointer = Checkpointer(
            self.store.audit_tree,
            key,
            self.config.audit_checkpoint_interval_s,
            self.metrics,
            self.config.clock,
        )
        checkpointer.start()
        stack.push_async_callback(_stop_step, "the audit checkpointer", checkpointer.close)
        self._checkpointer = checkpointer
        federation = self.config.federation
        if federation is None:
            return
        witnesser = Witnesser(
            self.store,
            key,
            self.config.province,
            lambda: self.store.trust_lists.current(federation.national_key, self.config.clock()),
            _peer_channels(federation),
            self.config.witness_interval_s,
            self.metrics,
        )
        checkpointer.on_checkpoint = witnesser.wake
        witnesser.start()
        # Pushed after the checkpointer: unwinding stops the witnesser first.
        stack.push_async_callback(_stop_step, "the witnesser", witnesser.close)
        self._witnesser = witnesser

    @property
    def audit_checkpoint_key(self) -> CheckpointKey | None:
        """The key the hub signs its audit checkpoints with: ``audit_key``, else with federation
        the hub key (the one peers find in the trust list), as signer ``hub-<province>``."""
        key = self.config.audit_key
        if key is None and self.config.federation is not None:
            key = self.config.federation.hub_key
        if key is None:
            return None
        return CheckpointKey(hub_signer(self.config.province), key)

    @property
    def witnesser(self) -> Witnesser:
        if self._witnesser is None:
            raise RuntimeError("the hub is not started with federation and an audit signing key")
        return self._witnesser

    @property
    def checkpointer(self) -> Checkpointer:
        if self._checkpointer is None:
            raise RuntimeError("the hub is not started with an audit signing key")
        return self._checkpointer

    def _peer_trust_anchors(self) -> PeerTrustAnchors | None:
        """With TLS and federation: the TLS server's and the role gate's view of which peer CAs
        the trust list in force names, loaded now and kept current while the hub runs."""
        config = self.config
        if config.tls is None or config.federation is None:
            return None
        anchors = PeerTrustAnchors(
            server_identity(config.tls.cert_pem, config.tls.key_pem),
            config.tls.client_ca_pem,
            self.store.trust_lists,
            config.federation.national_key,
            config.clock,
            config.federation.trust_list_refresh_s,
        )
        anchors.load()
        return anchors

    def _offer_trust_list(
        self, document: federation_pb2.SignedDocument, anchors: PeerTrustAnchors | None
    ) -> bool:
        """A newer list from a peer (the forwarder, in a worker thread): installed, and at once in
        force for new TLS handshakes too."""
        assert self.config.federation is not None
        installed = self.store.trust_lists.offer(
            document, self.config.federation.national_key, self.config.clock()
        )
        if installed and anchors is not None:
            anchors.refresh()
        return installed

    @property
    def transfers(self) -> TransferDriver:
        """The archive transfer driver (``HubConfig.archive_transfer`` with federation)."""
        if self.transfer_desk is None:
            raise RuntimeError("the hub is not started with federation and archive_transfer")
        return self.transfer_desk.driver

    @property
    def forwarder(self) -> Forwarder:
        if self._forwarder is None:
            raise RuntimeError("the hub is not started with federation")
        return self._forwarder

    def _trust_list_bytes(self) -> bytes | None:
        document = self.store.trust_lists.current_document()
        return None if document is None else document.SerializeToString()

    async def _writer_health(self, healthy: bool) -> None:
        if self._health is None or self._stopped:
            return
        status = (
            health_pb2.HealthCheckResponse.SERVING if healthy else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self._health.set(name, status)

    async def _stop_server(self, server: grpc.aio.Server) -> None:
        await server.stop(self._stop_grace)

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop reading records, send the Acks of those read (``grace`` seconds at most), and commit
        everything handed to the committer before returning."""
        if self._stopped or self._running is None:
            return
        self._stopped = True
        self._stop_grace = grace
        running, self._running = self._running, None
        await running.health.enter_graceful_shutdown()
        running.ingest.drain()
        await running.stack.aclose()
        log.info("hub for province %s on port %s stopped", self.config.province, self._port)

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


@dataclass(frozen=True, slots=True)
class _Running:
    """What a started hub holds: the stack that unwinds it, and what ``stop`` drains first."""

    stack: contextlib.AsyncExitStack
    health: HealthServicer
    ingest: StationIngestService


# A stop step still running after this long is logged by name, once, and then still awaited: a
# hung stop (seen once in CI, under load) must say which step hangs, but cutting a committer off
# mid-commit would lose what it was writing.
STOP_STEP_WARN_S = 15.0


async def _stop_step(step: str, stop: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.ensure_future(stop())
    try:
        done, _pending = await asyncio.wait({task}, timeout=STOP_STEP_WARN_S)
    except asyncio.CancelledError:
        task.cancel()  # asyncio.wait leaves the step running; a cancelled stop cancels it as before
        raise
    if not done:
        log.error("hub stop: %s has not finished after %.0f s; still waiting for it", step, STOP_STEP_WARN_S)
    await task


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _peer_channels(federation: FederationConfig) -> ChannelFactory:
    """Channels to peers: mTLS with our peer-hub certificate, trusting the CA the trust list names."""

    def open_channel(entry: ProvinceHubEntry) -> grpc.aio.Channel:
        options = [("grpc.max_receive_message_length", 1 * MiB)]
        if federation.peer_cert_pem is None or federation.peer_key_pem is None:
            return grpc.aio.insecure_channel(entry.endpoint, options=options)
        credentials = channel_credentials(
            entry.peer_ca_pem, federation.peer_cert_pem, federation.peer_key_pem
        )
        return grpc.aio.secure_channel(entry.endpoint, credentials, options=options)

    return open_channel


def _server_options(config: HubConfig) -> list[tuple[str, Any]]:
    return [
        *SERVER_OPTIONS,
        ("grpc.max_receive_message_length", config.max_message_bytes),
        # Acks are small; an archive transfer's bag chunks (hub.archive_stream) are the largest
        # message sent, and a peer's channel takes up to 1 MiB (_peer_channels).
        ("grpc.max_send_message_length", 1 * MiB),
        # Stations hold one long, often idle stream: ping it so dead peers are noticed, and let
        # the stations' own keepalive pings (every 30 s, also without data) through.
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.max_connection_age_grace_ms", 30_000),
    ]

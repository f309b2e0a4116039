"""The hub process: configuration, and the grpc.aio server that serves ingest, health and reflection.

``HubServer`` is an async context manager: entering migrates the database, starts the group
committer, the gRPC server and (if asked) the metrics endpoint; leaving stops taking new
streams, lets streams in flight finish for ``grace`` seconds, commits everything already handed
to the committer, and closes the database.

Transport security: with ``tls`` the hub requires a client certificate signed by
``client_ca_pem`` (mTLS) and holds every record's station id to the certificate's common name.
Without it the hub serves plaintext and says so loudly in the log; the CLI refuses to do that
unless told ``--insecure``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from hub.enrollment_service import register_enrollment_service
from hub.envelope_check import EnvelopeLimits
from hub.ingest_service import (
    SERVICE_NAME,
    GroupCommitter,
    KeyDirectory,
    StationIngestService,
    VerdictJudge,
)
from hub.metrics import HubMetrics
from hub.rate_limit import StationRateLimiter
from hub.store import HubStore
from inspection import InspectionRecord, Verdict
from pki.grpc_credentials import server_credentials
from protos.server_port import SERVER_OPTIONS, listen

log = logging.getLogger(__name__)

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HubTls:
    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes


@dataclass(frozen=True, slots=True)
class HubConfig:
    database_url: str
    listen: str = "127.0.0.1:0"
    province: str = "50"
    max_message_bytes: int = 4 * MiB  # gRPC ends a stream with a larger message: RESOURCE_EXHAUSTED
    max_record_bytes: int = 1 * MiB  # a larger record is answered REJECTED
    max_photos_per_record: int = 32
    station_rate_per_s: float | None = None  # over it: stream ends with RESOURCE_EXHAUSTED
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


class HubConfigError(ValueError):
    pass


def split_host_port(address: str, what: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise HubConfigError(f"{what} {address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class HubServer:
    def __init__(self, config: HubConfig) -> None:
        if config.tls is None and not config.insecure_ok:
            raise HubConfigError("no TLS configured and insecure_ok is False")
        if config.max_record_bytes > config.max_message_bytes:
            raise HubConfigError("max_record_bytes must not exceed max_message_bytes")
        self.config = config
        self.store = HubStore(config.database_url)
        self.metrics = HubMetrics()
        self._server: grpc.aio.Server | None = None
        self._committer: GroupCommitter | None = None
        self._port: int | None = None
        self._metrics_port: int | None = None
        self._health: HealthServicer | None = None
        self._service: StationIngestService | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the hub is not started")
        return self._port

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_port

    async def __aenter__(self) -> HubServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        config = self.config
        self.store.migrate()
        committer = GroupCommitter(
            self.store, self.metrics, config.group_commit_max, config.group_commit_wait_ms
        )
        committer.start()
        self._committer = committer
        rate_limiter = (
            StationRateLimiter(config.station_rate_per_s) if config.station_rate_per_s is not None else None
        )
        service = StationIngestService(
            KeyDirectory(self.store, config.key_cache_ttl_s),
            committer,
            self.metrics,
            EnvelopeLimits(config.max_record_bytes, config.max_photos_per_record),
            VerdictJudge(config.judge),
            rate_limiter,
            require_certificate=config.tls is not None,
            max_inflight_bytes=config.max_inflight_bytes,
        )
        self._service = service
        self.metrics.inflight_bytes.set_function(lambda: service.budget.used_bytes)
        server = grpc.aio.server(options=_server_options(config))
        server.add_generic_rpc_handlers((service.rpc_handler(),))
        register_enrollment_service(server, self.store, require_certificate=config.tls is not None)
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        if config.tls is not None:
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
        self._server = server
        for name in ("", SERVICE_NAME):
            await health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._health = health
        if config.metrics_listen is not None:
            host, port = split_host_port(config.metrics_listen, "metrics_listen")
            self._metrics_port = self.metrics.serve(host, port)
        log.info("hub for province %s serving on port %d", config.province, self._port)

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop reading records, send the Acks of those read (``grace`` seconds at most), and commit
        everything handed to the committer before returning."""
        if self._stopped:
            return
        self._stopped = True
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self._service is not None:
            self._service.drain()
        if self._server is not None:
            await self._server.stop(grace)
        if self._committer is not None:
            await self._committer.close()
        self.metrics.close()
        self.store.dispose()

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


def _server_options(config: HubConfig) -> list[tuple[str, Any]]:
    return [
        *SERVER_OPTIONS,
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", 64 * 1024),  # Acks are small
        # Stations hold one long, often idle stream: ping it so dead peers are noticed, and let
        # the stations' own keepalive pings (every 30 s, also without data) through.
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.max_connection_age_grace_ms", 30_000),
    ]

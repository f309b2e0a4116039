"""A running station: outbox, signer, uplink, lanes, PDA service and metrics wired together.

``Station`` is what ``tongjian agent run`` and the demo start. It owns the order of start-up and
shut-down, which matters: first the hub is asked whether it takes the signing key
(``hub_check.check_enrollment_at_start``: a refusal stops the station before anything is signed;
a hub that is merely down does not), the outbox opens before anything can complete a record, the uplink
starts before the lanes so a backlog from the last run drains at once. On the way out everything
stops in the reverse order of its start (one ``AsyncExitStack``): the PDA service first (no new
requests reach the lanes), then the lanes, last lane first (each finishes the hand-overs under way,
so no record is cut off), then the metrics endpoint, then the uplink, whose unsettled records
simply stay in the outbox, and last the outbox itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from pki.grpc_credentials import channel_credentials, server_tls_credentials
from station_agent.agent import StationAgent
from station_agent.errors import HttpServerError
from station_agent.hub_check import EnrollmentProbe, check_enrollment_at_start
from station_agent.hub_notices import HubNoticeStore, NoticePoller
from station_agent.inspector_directory import InspectorDirectory
from station_agent.lane import Lane
from station_agent.lane_config import LaneConfig
from station_agent.lane_wiring import open_lane
from station_agent.metrics import AgentMetrics
from station_agent.outbox import OutboxStore
from station_agent.photo_store import PhotoStore
from station_agent.record_signer import RecordSigner
from station_agent.uplink import Uplink

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StationTls:
    """The station's client certificate for mTLS to the hub, and the CA that signed the hub's."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def from_files(cls, ca: Path, cert: Path, key: Path) -> StationTls:
        """Reads and checks the files (``PkiError`` names the file that is unreadable, not PEM,
        expired, or a key that belongs to another certificate): gRPC would only fail the handshake."""
        channel_credentials(ca, cert, key)
        return cls(ca.read_bytes(), cert.read_bytes(), key.read_bytes())

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return channel_credentials(self.ca_pem, self.cert_pem, self.key_pem)


@dataclass(frozen=True, slots=True)
class StationSettings:
    station_id: str
    signing_key: Path  # Ed25519 private key, PEM (``tongjian keys new``)
    outbox_path: Path
    hub_target: str  # host:port of the province hub
    tls: StationTls | None = None  # None only with insecure=True
    insecure: bool = False
    outbox_max_depth: int = 100_000
    window: int = 64
    lanes: Sequence[LaneConfig] = field(default_factory=tuple)
    metrics_listen: str | None = None
    uplink_backoff_max_s: float = 30.0
    uplink_ack_timeout_s: float = 60.0
    notice_poll_s: float = 30.0  # how often to ask the hub for notices (post-review rejections)
    # More host:port addresses of the same province hub (replicas on one database), tried in this
    # order after hub_target when it does not answer (station_agent.uplink, "Several hub addresses").
    hub_fallbacks: tuple[str, ...] = ()

    @property
    def hub_targets(self) -> tuple[str, ...]:
        return (self.hub_target, *self.hub_fallbacks)

    def __post_init__(self) -> None:
        if len(set(self.hub_targets)) != len(self.hub_targets):
            raise ValueError(f"a hub address is listed twice: {', '.join(self.hub_targets)}")
        if self.tls is None and not self.insecure:
            raise ValueError("the hub link needs TLS files, or insecure=True to send in plaintext")
        for lane in self.lanes:
            if lane.station_id != self.station_id:
                raise ValueError(
                    f"lane {lane.lane} ({lane.source}) is configured for station {lane.station_id!r}, "
                    f"this agent is {self.station_id!r}"
                )


class Station:
    """``async with Station(settings) as station:`` runs everything until the block ends."""

    def __init__(self, settings: StationSettings) -> None:
        self.settings = settings
        self.metrics = AgentMetrics()
        self.lanes: list[Lane] = []
        self.pda_port: int | None = None
        self.pda_web_port: int | None = None  # the PDA page's, with [pda] web_listen
        self.pda_web_scheme = "https"
        self.inspectors: InspectorDirectory | None = None
        self.photos: PhotoStore | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Station:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        s = self.settings
        if s.tls is None:
            log.warning(
                "!!! INSECURE: station %s sends records to %s in PLAINTEXT without authenticating the hub "
                "(--insecure). Never do this outside a test bench. !!!",
                s.station_id,
                ", ".join(s.hub_targets),
            )
        signer = RecordSigner.from_pem_file(s.station_id, s.signing_key)
        credentials = None if s.tls is None else s.tls.channel_credentials()
        enrollment = EnrollmentProbe(s.hub_targets, s.station_id, signer.key_id, credentials)
        # Before the outbox and any lane: a station the hub refuses must not sign a single record.
        await check_enrollment_at_start(enrollment)
        self.outbox = OutboxStore(s.outbox_path, s.outbox_max_depth)
        self._stack.callback(self.outbox.close)
        self.uplink = Uplink(
            self.outbox,
            s.hub_targets,
            window=s.window,
            channel_credentials=credentials,
            insecure=s.tls is None,
            enrollment=enrollment,
            backoff_max_s=s.uplink_backoff_max_s,
            ack_timeout_s=s.uplink_ack_timeout_s,
        )
        await self.uplink.start()
        self._stack.push_async_callback(self.uplink.stop)
        self.notices = HubNoticeStore(s.outbox_path)
        self._stack.callback(self.notices.close)
        self.metrics.hub_notices.set_function(self.notices.count)
        poller = NoticePoller(self.notices, s.hub_targets, s.station_id, credentials, s.notice_poll_s)
        poller.start()
        self._stack.push_async_callback(poller.stop)
        self.agent = StationAgent(s.station_id, signer, self.outbox, self.uplink)
        self.metrics.watch_delivery(self.outbox, self.uplink)
        if s.metrics_listen is not None:
            self.metrics.serve(s.metrics_listen)
            self._stack.callback(self.metrics.close)
        for config in s.lanes:
            # A bench that is not there does not stop the agent: the lane reports it down and waits.
            lane = await self._stack.enter_async_context(
                open_lane(
                    config,
                    self.agent.submit,
                    on_bench_error=self.metrics.count_bench_error,
                    on_bench_change=functools.partial(self.metrics.set_bench_state, config.lane),
                )
            )
            self.lanes.append(lane)
        pda = next((c.pda for c in s.lanes if c.pda is not None), None)
        if pda is not None:
            # Imported here: a station without handsets (no [pda]) does not carry the PDA service's
            # gRPC contracts and sign-in machinery in memory (issue 19: the agent's footprint).
            from station_agent.pda_service import PdaService, start_pda_server

            # One PDA service per station serves every lane; the first lane with a [pda] table sets it.
            self.inspectors = InspectorDirectory(pda.directory)
            photos = self.photos = PhotoStore(pda.photo_dir, max_bytes=pda.max_photo_bytes)
            service = PdaService(
                self.lanes,
                self.inspectors,
                photos,
                session_ttl_s=pda.session_ttl_s,
                registry=self.metrics.registry,
            )
            # The lane file's [pda] section has either a certificate and key or insecure = true.
            pda_credentials = (
                None if pda.cert is None or pda.key is None else server_tls_credentials(pda.cert, pda.key)
            )
            server, self.pda_port = await start_pda_server(
                service, pda.listen, credentials=pda_credentials, insecure=pda.insecure
            )
            self._stack.push_async_callback(server.stop, 5.0)
            log.info("PDA lane service on %s (port %d)", pda.listen, self.pda_port)
            if pda.web_listen is not None:
                from station_agent.pda_web import pda_app
                from web_serving import asgi_server

                host, _, port = pda.web_listen.rpartition(":")
                page = asgi_server.AsgiServer(
                    pda_app(service, secure_cookies=pda.cert is not None),
                    host.strip("[]"),
                    int(port),
                    what="PDA page",
                    tls=None if pda.cert is None or pda.key is None else (pda.cert, pda.key),
                )
                try:
                    await page.start()
                except asgi_server.HttpServerError as error:
                    raise HttpServerError(str(error)) from error
                self._stack.push_async_callback(page.stop)
                self.pda_web_port = page.port
                self.pda_web_scheme = page.scheme

    def lane(self, number: int) -> Lane:
        for lane in self.lanes:
            if lane.number == number:
                return lane
        raise KeyError(f"no lane {number} at station {self.settings.station_id}")

"""The station agent's Prometheus metrics: outbox depth and age, delivery outcomes, bench errors and
whether each lane's benches are up (``tongjian_agent_bench_up{lane,bench}``: 1 up, 0 down).

Outbox and uplink figures are read at scrape time from the objects that own them (a custom
collector), so there is one source of truth and nothing to keep in step. Bench errors are events
and are counted as they happen. Each agent has its own ``CollectorRegistry``: two agents in one
test process must not share counters.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from equipment.errors import EquipmentError

if TYPE_CHECKING:
    from station_agent.bench_supervisor import BenchStatus
    from station_agent.outbox import OutboxStore
    from station_agent.uplink import Uplink

log = logging.getLogger(__name__)


class _DeliveryCollector(Collector):
    def __init__(self, outbox: OutboxStore, uplink: Uplink) -> None:
        self._outbox = outbox
        self._uplink = uplink

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("tongjian_agent_outbox_depth", "Records in the outbox awaiting an Ack")
        age = GaugeMetricFamily(
            "tongjian_agent_outbox_oldest_age_seconds", "Age of the oldest record in the outbox (0 if empty)"
        )
        limit = GaugeMetricFamily("tongjian_agent_outbox_limit", "Configured maximum outbox depth")
        # A scrape must never take the agent down: a locked or vanished database reads as no sample.
        with contextlib.suppress(Exception):
            depth.add_metric([], self._outbox.depth())
            age.add_metric([], self._outbox.oldest_age_s())
        limit.add_metric([], self._outbox.max_depth)
        yield depth
        yield age
        yield limit

        records = CounterMetricFamily(
            "tongjian_agent_records", "Records sent to the hub and how the hub answered", labels=["outcome"]
        )
        uplink = self._uplink
        for outcome, value in (
            ("sent", uplink.sent),
            ("accepted", uplink.accepted),
            ("duplicate", uplink.duplicate),
            ("rejected", uplink.rejected),
        ):
            records.add_metric([outcome], value)
        yield records

        rejected = GaugeMetricFamily(
            "tongjian_agent_rejected_records",
            "Records the hub refused, parked in the dead-letter table, by the hub's reason",
            labels=["reason"],
        )
        with contextlib.suppress(Exception):
            for reason, count in Tally(
                _reason_class(reason) for reason in self._outbox.rejected_reasons()
            ).items():
                rejected.add_metric([reason], count)
        yield rejected

        connected = GaugeMetricFamily("tongjian_agent_hub_connected", "1 while a stream to the hub is open")
        connected.add_metric([], 1.0 if uplink.connected else 0.0)
        yield connected
        reconnects = CounterMetricFamily("tongjian_agent_hub_reconnects", "Streams opened after the first")
        reconnects.add_metric([], uplink.reconnects)
        yield reconnects
        refused = GaugeMetricFamily(
            "tongjian_agent_signing_key_refused",
            "1 while the hub refuses this station's signing key and the uplink is paused (alert on it)",
        )
        refused.add_metric([], 1.0 if uplink.signing_key_refused is not None else 0.0)
        yield refused


def _reason_class(reason: str) -> str:
    # Hub reasons carry specifics after a colon ("bad signature: key 50-0001/..."); the label keeps
    # the class only, so label cardinality stays bounded.
    return reason.split(":", 1)[0].strip()[:60] or "unspecified"


@dataclass
class AgentMetrics:
    """One agent's metrics. ``serve(listen)`` exposes ``/metrics`` over HTTP."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    port: int | None = None

    def __post_init__(self) -> None:
        self.bench_errors = Counter(
            "tongjian_agent_bench_errors",
            "Bench errors by device and code (exception class when the device sent no code)",
            ["device", "code"],
            registry=self.registry,
        )
        self.bench_up = Gauge(
            "tongjian_agent_bench_up",
            "1 while the lane's bench answers, 0 while it is down (the lane refuses check-ins needing it)",
            ["lane", "bench"],
            registry=self.registry,
        )
        self.hub_notices = Gauge(
            "tongjian_agent_hub_notices",
            "notices the hub sent this station and it keeps (e.g. records rejected in post-review)",
            registry=self.registry,
        )
        self._server: object | None = None

    def set_bench_state(self, lane: int, status: BenchStatus) -> None:
        self.bench_up.labels(str(lane), status.bench.value).set(1.0 if status.up else 0.0)

    def watch_delivery(self, outbox: OutboxStore, uplink: Uplink) -> None:
        self.registry.register(_DeliveryCollector(outbox, uplink))

    def count_bench_error(self, error: EquipmentError) -> None:
        code = getattr(error, "code", None)
        self.bench_errors.labels(
            error.device or "unknown", str(code) if code is not None else type(error).__name__
        ).inc()

    def serve(self, listen: str) -> int:
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
        self._server = server
        self.port = server.server_port
        log.info("agent metrics on http://%s:%d/metrics", host or "127.0.0.1", self.port)
        return self.port

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]

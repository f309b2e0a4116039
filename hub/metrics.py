"""The hub's Prometheus metrics, in a registry of its own per server (tests run several hubs in
one process), optionally served over HTTP at ``/metrics``."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("tongjian_hub_records_received", "SignedRecords received", registry=r)
        self.accepted = Counter("tongjian_hub_records_accepted", "records stored", registry=r)
        self.duplicate = Counter(
            "tongjian_hub_records_duplicate", "records received again, byte-identical", registry=r
        )
        self.rejected = Counter(
            "tongjian_hub_records_rejected", "records refused, by reason", ["reason"], registry=r
        )
        self.rate_limited = Counter(
            "tongjian_hub_streams_rate_limited", "streams ended for exceeding the station rate", registry=r
        )
        self.ingest_latency = Histogram(
            "tongjian_hub_ingest_latency_seconds",
            "from a record's arrival to its Ack being ready",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_latency = Histogram(
            "tongjian_hub_commit_latency_seconds", "one group-commit transaction", buckets=_LATENCY_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "tongjian_hub_commit_batch_size", "items per group-commit transaction", buckets=_BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.commit_failures = Counter(
            "tongjian_hub_commit_failures",
            "records or audit entries the writer could not store (the station resends)",
            registry=r,
        )
        self.inflight_bytes = Gauge(
            "tongjian_hub_inflight_bytes",
            "bytes of records read and not yet answered, all streams",
            registry=r,
        )
        self.audit_checkpoints = Counter(
            "tongjian_hub_audit_checkpoints", "signed checkpoints of the audit log written", registry=r
        )
        self.audit_checkpoint_size = Gauge(
            "tongjian_hub_audit_checkpoint_size", "entries in the newest signed audit checkpoint", registry=r
        )
        self.audit_checkpoint_failures = Counter(
            "tongjian_hub_audit_checkpoint_failures",
            "checkpoints not written: the log no longer matches an older checkpoint, or the database failed",
            ["reason"],
            registry=r,
        )
        self.witness_calls = Counter(
            "tongjian_hub_witness_calls",
            "this hub's audit checkpoint shown to a peer, by peer province and its answer",
            ["province", "outcome"],
            registry=r,
        )
        self.witness_alarms = Counter(
            "tongjian_hub_witness_alarms",
            "a peer's audit checkpoint refused: its log is not consistent with what it showed before",
            ["province"],
            registry=r,
        )
        self.forwarded = Counter(
            "tongjian_hub_forwarded", "records delivered to their registration province's hub",
            ["province"], registry=r,
        )  # fmt: skip
        self.forward_parked = Counter(
            "tongjian_hub_forward_parked", "forwarded records a peer refused (parked for an operator)",
            ["province"], registry=r,
        )  # fmt: skip
        self.forward_link_failures = Counter(
            "tongjian_hub_forward_link_failures", "hub-to-hub links that failed (retried with backoff)",
            ["province"], registry=r,
        )  # fmt: skip
        self.forward_pending = Gauge(
            "tongjian_hub_forward_pending", "outbox items not yet delivered nor parked", registry=r
        )
        self._http: WSGIServer | None = None

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on host:port (0 = any free port); returns the port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http = server
        return int(server.server_port)

    def close(self) -> None:
        server, self._http = self._http, None
        if server is not None:
            server.shutdown()
            server.server_close()

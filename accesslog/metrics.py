"""The collector's Prometheus metrics. Labels are outcomes and reasons, never a client,
an application or a node: who called what is the usage data itself, in Redis."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.entries = Counter(
            "tollgate_accesslog_entries",
            "HTTP access-log entries: attributed (a Tollgate route's tags), unattributed "
            "(no route matched, or unreadable tags), refused (on a stream that was refused)",
            ("outcome",),
            registry=self.registry,
        )
        self.attributed = self.entries.labels("attributed")
        self.unattributed = self.entries.labels("unattributed")
        self.refused = self.entries.labels("refused")
        self.ignored = Counter(
            "tollgate_accesslog_ignored_entries",
            "Entries not counted as requests: tcp (TCP proxy logs), not_final (start and "
            "periodic entries, upstream logs: their request is counted by its final entry)",
            ("kind",),
            registry=self.registry,
        )
        self.ignored_tcp = self.ignored.labels("tcp")
        self.ignored_not_final = self.ignored.labels("not_final")
        self.streams_active = Gauge(
            "tollgate_accesslog_streams_active",
            "Open access-log streams (an Envoy opens one per worker thread)",
            registry=self.registry,
        )
        self.flushes = Counter(
            "tollgate_accesslog_flushes",
            "Flushes of the counts to Redis that Redis took",
            registry=self.registry,
        )
        self.flush_errors = Counter(
            "tollgate_accesslog_flush_errors",
            "Flushes that failed (Redis away or refusing); their counts are kept and sent again",
            registry=self.registry,
        )
        self.pending_dims = Gauge(
            "tollgate_accesslog_pending_dims",
            "(minute, dims) cells counted and not yet in Redis",
            registry=self.registry,
        )
        self.redis_dropped_dims = Counter(
            "tollgate_accesslog_redis_dropped_dims",
            "(minute, dims) cells dropped unwritten: Redis was away beyond the pending bound, "
            "or still away at shutdown",
            registry=self.registry,
        )
        self.stream_gap = Histogram(
            "tollgate_accesslog_stream_gap_seconds",
            "Time a node had no access-log stream, observed when one opens again (Envoy "
            "drops what it logs meanwhile: its access_logs.grpc_access_log.logs_dropped)",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 21600, 86400),
            registry=self.registry,
        )
        self.auth_refused = Counter(
            "tollgate_accesslog_auth_refused",
            "Streams refused: unauthenticated, permission_denied, resource_exhausted, "
            "invalid_argument",
            ("reason",),
            registry=self.registry,
        )

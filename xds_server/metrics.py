"""xds_server's Prometheus metrics: who is connected, what was pushed, what Envoys and
sidecars accepted or rejected, which versions are being served, and refused streams.

Counts are plain ints bumped on the event loop (the servicer and the cache's ACK/NACK hook);
everything else is read from the live servicer, cache and credentials when /metrics is
scraped, on the metrics server's own thread. That thread only takes copies made in one C
call (dict(), list()), which the GIL keeps whole while the loop changes the originals.

Labels carry credential names (the operator's gateways and sidecars, one per line of the
credentials file), roles, type URLs, snapshot groups and versions: never a node id (a
sidecar's has its host and pid, so every restart would add a series), never a client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from xds_server.cache import SnapshotCache, XdsEvent
from xds_server.credentials import ROLES, Credential
from xds_server.errors import (
    BadRequest,
    CredentialsError,
    LimitExceeded,
    PermissionDenied,
    StreamRefused,
    Unauthenticated,
)

_TYPE_PREFIX: Final = "type.googleapis.com/"
# Why a stream was ended by the server, named as the gRPC status it ended with.
REASONS: Final[dict[type[StreamRefused], str]] = {
    Unauthenticated: "unauthenticated",
    PermissionDenied: "permission_denied",
    LimitExceeded: "resource_exhausted",
    BadRequest: "invalid_argument",
}

# One open ADS stream: the credential that opened it, and the node id it named ("" until its
# first request).
OpenStream = tuple[Credential, str]


def type_label(type_url: str) -> str:
    """`envoy.config.cluster.v3.Cluster` for its type URL: shorter on a dashboard."""
    return type_url.removeprefix(_TYPE_PREFIX)


def _no_streams() -> list[OpenStream]:
    return []


class XdsMetrics:
    """The counts, and where the collector reads the open streams from."""

    def __init__(self) -> None:
        self.streams_opened = 0
        self.pushes: dict[str, int] = {}
        self.acks: dict[str, int] = {}
        self.nacks: dict[str, int] = {}
        self.refusals: dict[str, int] = dict.fromkeys(REASONS.values(), 0)
        self.open_streams: Callable[[], list[OpenStream]] = _no_streams

    def pushed(self, type_url: str) -> None:
        self.pushes[type_url] = self.pushes.get(type_url, 0) + 1

    def on_event(self, event: XdsEvent) -> None:
        """The cache's ACK/NACK hook (each is reported once per version and stream)."""
        counts = self.acks if event.kind == "ack" else self.nacks
        counts[event.type_url] = counts.get(event.type_url, 0) + 1

    def refused(self, error: StreamRefused) -> None:
        reason = REASONS.get(type(error), "other")
        self.refusals[reason] = self.refusals.get(reason, 0) + 1


class XdsCollector(Collector):
    """Everything xds_server exports, computed at scrape time."""

    def __init__(
        self,
        metrics: XdsMetrics,
        cache: SnapshotCache,
        credentials: Callable[[], Sequence[Credential]],
    ) -> None:
        self._metrics = metrics
        self._cache = cache
        self._credentials = credentials

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        yield from self._connections(metrics.open_streams())
        yield _by_type("tollgate_xds_pushes", "DiscoveryResponses sent, by type", metrics.pushes)
        yield _by_type("tollgate_xds_acks", "Versions accepted (ACK), by type", metrics.acks)
        yield _by_type(
            "tollgate_xds_nacks",
            "Versions rejected (NACK), by type: the error is in mgmt's snapshot rejections",
            metrics.nacks,
        )
        opened = CounterMetricFamily(
            "tollgate_xds_streams_opened", "ADS streams authenticated since start"
        )
        opened.add_metric((), metrics.streams_opened)
        yield opened
        refused = CounterMetricFamily(
            "tollgate_xds_refused_streams",
            "ADS streams ended by the server, by reason (the gRPC status they ended with)",
            labels=("reason",),
        )
        for reason, count in sorted(dict(metrics.refusals).items()):
            refused.add_metric((reason,), count)
        yield refused
        yield from self._snapshots()

    def _connections(self, streams: list[OpenStream]) -> Iterator[Metric]:
        try:
            known: Sequence[Credential] = self._credentials()
        except CredentialsError:
            # A broken file (the server keeps its last good credentials): open streams only.
            known = ()
        credentials = GaugeMetricFamily(
            "tollgate_xds_credentials", "xDS credentials in the credentials file", labels=("role",)
        )
        roles = Counter(c.role for c in known)
        for role in ROLES:
            credentials.add_metric((role,), roles[role])
        yield credentials
        # Every known credential has a series, at 0 while it holds no stream: an Envoy that
        # never connected is as visible as one that dropped off.
        per_credential: Counter[tuple[str, str]] = Counter({(c.name, c.role): 0 for c in known})
        per_credential.update((c.name, c.role) for c, _ in streams)
        open_streams = GaugeMetricFamily(
            "tollgate_xds_streams",
            "Open ADS streams, by credential (an Envoy holds one, each sidecar one)",
            labels=("credential", "role"),
        )
        for labels, count in sorted(per_credential.items()):
            open_streams.add_metric(labels, count)
        yield open_streams
        nodes = GaugeMetricFamily(
            "tollgate_xds_connected_nodes",
            "Distinct node ids holding an open ADS stream, by role",
            labels=("role",),
        )
        node_roles = Counter(role for _, role in {(node, c.role) for c, node in streams if node})
        for role in ROLES:
            nodes.add_metric((role,), node_roles[role])
        yield nodes

    def _snapshots(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "tollgate_xds_snapshot_info",
            "The version served per node group and type (1 per current version)",
            labels=("group", "type", "version"),
        )
        compiled = GaugeMetricFamily(
            "tollgate_xds_snapshot_compiled_timestamp_seconds",
            "When mgmt compiled the snapshot each node group is served (Unix seconds)",
            labels=("group", "snapshot"),
        )
        for group, snapshot in sorted(self._cache.snapshots().items()):
            compiled.add_metric((group, snapshot.version), snapshot.compiled_at)
            for type_url, resources in sorted(snapshot.sets.items()):
                info.add_metric((group, type_label(type_url), resources.version), 1)
        yield info
        yield compiled


def _by_type(name: str, documentation: str, counts: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=("type",))
    for type_url, count in sorted(dict(counts).items()):
        family.add_metric((type_label(type_url),), count)
    return family

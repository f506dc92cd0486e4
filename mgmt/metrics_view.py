"""Prometheus /metrics for the management app: the snapshot it publishes, what nodes said
of it, their degraded states, how far behind the analytics fold is, and lifecycle notices
waiting; read from the database at each scrape (a handful of indexed queries).

Internal, so authenticated like every channel between Tollgate's processes: a bearer token
of its own (TOLLGATE_METRICS_TOKEN), not TOLLGATE_INTERNAL_TOKEN, which also fetches
snapshots (key hashes included) and would be one more copy of it on the Prometheus server.
With no metrics token configured the endpoint does not exist: 404, whoever asks.

Labels are versions, condition names and notice states: never an application, key or node.
"""

import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from mgmt.gateway.models import (
    LifecycleNotice,
    NodeCondition,
    Snapshot,
    SnapshotRejection,
)
from mgmt.gateway.node_conditions import SILENT_AFTER

# A minute is folded once it has closed: its rows can be no fresher than its end.
MINUTE: Final = timedelta(minutes=1)


class MgmtCollector(Collector):
    """Every family, queried when collected."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from _snapshots(now)
        yield from _conditions(now)
        yield from _notices()
        yield from _fold(now)


def _snapshots(now: datetime) -> Iterator[Metric]:
    newest = Snapshot.objects.order_by("-id").values_list("status", flat=True).first()
    refused = GaugeMetricFamily(
        "tollgate_mgmt_snapshot_refused",
        "1 while the newest compilation was refused (the last good snapshot stays live)",
    )
    refused.add_metric((), 1 if newest == Snapshot.Status.REFUSED else 0)
    yield refused
    live = (
        Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED)
        .only("version", "created_at", "type_versions")
        .order_by("-id")
        .first()
    )
    info = GaugeMetricFamily(
        "tollgate_mgmt_snapshot_info", "The published snapshot served now", labels=("version",)
    )
    published = GaugeMetricFamily(
        "tollgate_mgmt_snapshot_published_timestamp_seconds",
        "When the live snapshot was published (Unix seconds)",
    )
    age = GaugeMetricFamily(
        "tollgate_mgmt_snapshot_age_seconds", "Seconds since the live snapshot was published"
    )
    rejecting = GaugeMetricFamily(
        "tollgate_mgmt_snapshot_rejecting_nodes",
        "Nodes that rejected (NACKed) a type of the live snapshot",
    )
    if live is not None:
        info.add_metric((live.version,), 1)
        published.add_metric((), live.created_at.timestamp())
        age.add_metric((), (now - live.created_at).total_seconds())
        rejecting.add_metric((), live.rejections().values("node_id").distinct().count())
    yield from (info, published, age, rejecting)
    rejections = GaugeMetricFamily(
        "tollgate_mgmt_snapshot_rejections",
        "NACKs recorded and kept (any version; retention removes old ones)",
    )
    rejections.add_metric((), SnapshotRejection.objects.count())
    yield rejections


def _conditions(now: datetime) -> Iterator[Metric]:
    active = GaugeMetricFamily(
        "tollgate_mgmt_node_conditions",
        "Nodes reporting a degraded state now, by condition (e.g. counters-down)",
        labels=("condition",),
    )
    silent = GaugeMetricFamily(
        "tollgate_mgmt_node_conditions_silent",
        f"Of those, nodes silent for {SILENT_AFTER.total_seconds():.0f} s (down, or cut off)",
        labels=("condition",),
    )
    rows = (
        NodeCondition.objects.filter(active=True)
        .values("name")
        .annotate(
            nodes=Count("id"), silent=Count("id", filter=Q(reported_at__lt=now - SILENT_AFTER))
        )
        .order_by("name")
    )
    for row in rows:
        active.add_metric((row["name"],), row["nodes"])
        silent.add_metric((row["name"],), row["silent"])
    yield active
    yield silent


def _notices() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "tollgate_mgmt_lifecycle_notices",
        "Lifecycle notices by state (pending: waiting to be sent; no_recipient: nobody to tell)",
        labels=("state",),
    )
    counts = dict(LifecycleNotice.objects.order_by().values_list("state").annotate(n=Count("id")))
    for state in LifecycleNotice.State:
        family.add_metric((state.value,), counts.get(state.value, 0))
    yield family


def _fold(now: datetime) -> Iterator[Metric]:
    """How fresh the usage rollups are, when the analytics app is installed."""
    try:
        batches = apps.get_model("analytics", "FoldBatch")
    except LookupError:
        return
    newest = batches.objects.aggregate(minute=Max("minute"))["minute"]
    last = batches.objects.order_by("-id").values_list("folded_at", flat=True).first()
    lag = GaugeMetricFamily(
        "tollgate_analytics_fold_lag_seconds",
        "Seconds since the end of the newest minute folded into the rollups",
    )
    folded = GaugeMetricFamily(
        "tollgate_analytics_fold_last_timestamp_seconds",
        "When the fold last applied a batch (Unix seconds)",
    )
    if newest is not None:
        lag.add_metric((), (now - (newest + MINUTE)).total_seconds())
    if last is not None:
        folded.add_metric((), last.timestamp())
    yield lag
    yield folded


# One per process: the collector holds no state, every scrape reads the database.
REGISTRY: Final = CollectorRegistry()
REGISTRY.register(MgmtCollector())


def _authorized(request: HttpRequest, token: str) -> bool:
    presented = request.headers.get("Authorization", "")
    return hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token: str = getattr(settings, "TOLLGATE_METRICS_TOKEN", "")
    if not token:
        return HttpResponseNotFound()
    if not _authorized(request, token):
        body = {
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": "a valid metrics token is required",
        }
        refused = JsonResponse(body, status=401, content_type="application/problem+json")
        refused["WWW-Authenticate"] = 'Bearer realm="tollgate-metrics"'
        return refused
    # The format the scraper asks for (Prometheus's text format, or OpenMetrics).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)

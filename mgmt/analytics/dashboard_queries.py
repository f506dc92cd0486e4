"""The API owner's dashboard queries: thin ORM over the usage rollups, names resolved in bulk.

Every function issues a fixed number of queries whatever the number of rows (one per
table it reads, never one per row). Counts come from the rollups (mgmt.analytics.selectors
picks the resolution and marks coverage): the API-level ones wherever no application or
route is asked for, the application-level ones otherwise. Ids the rollups keep after an API
or application was deleted are shown as deleted, never dropped, so totals still add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.db.models import Q, Sum
from django.urls import reverse

from accesslog import histogram
from mgmt.analytics import selectors, timeline
from mgmt.analytics.models import ApiUsageDay, ApiUsageHour, UsageRow
from mgmt.gateway.models import Api, ApiVersion, Application, Route

RANGES: Final = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
RANGE_LABELS: Final = {"1h": "1 h", "24h": "24 h", "7d": "7 days", "30d": "30 days"}
DEFAULT_RANGE: Final = "24h"
TOP: Final = 10  # rows of each ranked list
MAX_VERSIONS: Final = 12  # API versions with a row (and a sparkline) of their own
MAX_CLUSTERS: Final = 15
# A published version with fewer calls than this in 30 days is listed as underused.
UNDERUSED_CALLS: Final = 100
# Week-over-week changes below this many calls in both weeks are noise, not a trend.
TREND_MIN_CALLS: Final = 50
ERROR_CLASSES: Final = ("4xx", "5xx")


@dataclass(frozen=True, slots=True)
class Window:
    """A dashboard range: [start, end) in buckets of `step`, the bucket in progress last."""

    key: str
    start: datetime
    end: datetime
    step: timedelta

    @property
    def label(self) -> str:
        return RANGE_LABELS[self.key]

    @property
    def model(self) -> type[UsageRow]:
        return selectors.resolution_for(self.start, self.end)

    def rollup(self, filters: dict[str, int]) -> selectors.Rollup:
        """The table to read the range's traffic that `filters` select from."""
        return selectors.rollup_for(self.start, self.end, filters)

    @property
    def buckets(self) -> list[datetime]:
        return timeline.buckets(self.start, self.end, self.step)


def window(key: str | None, now: datetime) -> Window:
    """The range `key` names (the default for anything else), ending with `now`'s bucket."""
    key = key if key in RANGES else DEFAULT_RANGE
    length = RANGES[key]
    step = timeline.step_for(now - length, now)
    end = timeline.floor(now, step) + step
    return Window(key, end - length, end, step)


def _in(window: Window) -> Q:
    return Q(bucket__gte=window.start, bucket__lt=window.end)


# --- names --------------------------------------------------------------------------------


def version_names(ids: Iterable[int]) -> dict[int, str]:
    """ "Orders v2" per version id: one query; 0 is traffic that matched no route."""
    wanted = {i for i in ids if i}
    names = {
        v.pk: f"{v.api.name} {v.version}"
        for v in ApiVersion.objects.filter(pk__in=wanted).select_related("api")
    }
    names[0] = "unattributed (matched no route)"
    return {i: names.get(i, f"deleted version #{i}") for i in (*wanted, 0)}


def api_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    names = dict(Api.objects.filter(pk__in=wanted).values_list("pk", "name"))
    return {i: names.get(i, f"deleted API #{i}") if i else "unattributed" for i in (*wanted, 0)}


@dataclass(frozen=True, slots=True)
class AppName:
    id: int
    name: str
    organization: str
    exists: bool

    @property
    def owner_url(self) -> str:
        return reverse("analytics:application", args=[self.id]) if self.exists else ""

    @property
    def change_url(self) -> str:
        return reverse("admin:gateway_application_change", args=[self.id]) if self.exists else ""


def application_names(ids: Iterable[int]) -> dict[int, AppName]:
    """Application and organization names per id: one query."""
    wanted = {i for i in ids if i}
    found = {
        a.pk: AppName(a.pk, a.name, a.organization.name, True)
        for a in Application.objects.filter(pk__in=wanted).select_related("organization")
    }
    return {i: found.get(i, AppName(i, f"deleted application #{i}", "", False)) for i in wanted}


# --- traffic over time ----------------------------------------------------------------------


def traffic(window: Window, now: datetime, **filters: int) -> list[selectors.Point]:
    """Requests, errors, throttles and p50/p99 per bucket, with each bucket's coverage."""
    return selectors.series(filters, window.start, window.end, now=now)


@dataclass(frozen=True, slots=True)
class VersionTraffic:
    api_id: int
    version_id: int
    name: str
    requests: int
    errors: int
    throttled: int
    p50_us: float | None
    p99_us: float | None
    per_bucket: tuple[int, ...]  # requests, aligned with the window's buckets

    @property
    def error_rate(self) -> float | None:
        return 100 * self.errors / self.requests if self.requests else None


def per_version(window: Window, **filters: int) -> list[VersionTraffic]:
    """The busiest API versions of the range (of the traffic `filters` select, e.g. one
    application's): totals, p50/p99 and requests per bucket."""
    rows = window.rollup(filters)._default_manager.filter(_in(window), **filters)
    top = list(
        rows.values("api_id", "version_id")
        .annotate(requests=Sum("requests"), errors=Sum("errors"), throttled=Sum("throttled"))
        .order_by("-requests", "version_id")[:MAX_VERSIONS]
    )
    ids = [row["version_id"] for row in top]
    merged = selectors.merged_histograms(rows.filter(version_id__in=ids), "version_id")
    index = {bucket: n for n, bucket in enumerate(window.buckets)}
    per_bucket: dict[int, list[int]] = {i: [0] * len(index) for i in ids}
    for version_id, bucket, requests in (
        rows.filter(version_id__in=ids)
        .values("version_id", "bucket")
        .annotate(n=Sum("requests"))
        .values_list("version_id", "bucket", "n")
    ):
        if bucket in index:
            per_bucket[version_id][index[bucket]] += requests
    names = version_names(ids)
    return [
        VersionTraffic(
            api_id=row["api_id"],
            version_id=row["version_id"],
            name=names[row["version_id"]],
            requests=row["requests"],
            errors=row["errors"],
            throttled=row["throttled"],
            p50_us=histogram.quantile(merged.get(row["version_id"], {}), 0.5),
            p99_us=histogram.quantile(merged.get(row["version_id"], {}), 0.99),
            per_bucket=tuple(per_bucket[row["version_id"]]),
        )
        for row in top
    ]


# --- who calls ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Consumer:
    application: AppName
    requests: int
    errors: int
    throttled: int


def top_consumers(window: Window, *, limit: int = TOP) -> list[Consumer]:
    """The applications with the most requests in the range (known applications only)."""
    top = list(
        window.model._default_manager.filter(_in(window))
        .exclude(application_id=0)
        .values("application_id")
        .annotate(requests=Sum("requests"), errors=Sum("errors"), throttled=Sum("throttled"))
        .order_by("-requests", "application_id")[:limit]
    )
    names = application_names(row["application_id"] for row in top)
    return [
        Consumer(names[row["application_id"]], row["requests"], row["errors"], row["throttled"])
        for row in top
    ]


# --- errors by API, route and status class ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorCluster:
    api: str
    route: str
    version: str
    status_class: str
    count: int
    throttled: int  # of `count`, the gateway's own 429s
    share: float  # of the route's responses in the range, in %


def error_clusters(window: Window, *, limit: int = MAX_CLUSTERS) -> list[ErrorCluster]:
    """4xx and 5xx responses grouped by (API, route, status class), most first."""
    rows = window.model._default_manager.filter(_in(window))
    top = list(
        rows.filter(status_class__in=ERROR_CLASSES)
        .values("api_id", "route_id", "status_class")
        .annotate(count=Sum("requests"), throttled=Sum("throttled"))
        .filter(count__gt=0)
        .order_by("-count", "api_id", "route_id", "status_class")[:limit]
    )
    route_ids = {row["route_id"] for row in top}
    totals = dict(
        rows.filter(route_id__in=route_ids)
        .values("route_id")
        .annotate(n=Sum("requests"))
        .values_list("route_id", "n")
    )
    routes = Route.objects.filter(pk__in=route_ids).select_related("api_version__api").in_bulk()
    apis = api_names(row["api_id"] for row in top)
    clusters = []
    for row in top:
        route = routes.get(row["route_id"])
        if route is not None:
            path = f"{route.methods or 'any method'} {route.path}"
            version = route.api_version.version
        else:
            path = (
                "no route matched" if not row["route_id"] else f"deleted route #{row['route_id']}"
            )
            version = ""
        total = totals.get(row["route_id"]) or row["count"]
        clusters.append(
            ErrorCluster(
                api=apis[row["api_id"]],
                route=path,
                version=version,
                status_class=row["status_class"],
                count=row["count"],
                throttled=row["throttled"],
                share=100 * row["count"] / total,
            )
        )
    return clusters


# --- trends and neglect ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trend:
    api: str
    this_week: int
    last_week: int

    @property
    def change(self) -> float | None:
        """In %; None for an API that had no calls the week before (new traffic)."""
        if not self.last_week:
            return None
        return 100 * (self.this_week - self.last_week) / self.last_week


@dataclass(frozen=True, slots=True)
class Trends:
    gaining: list[Trend]
    losing: list[Trend]
    # A collector gap (or partial coverage) in one of the weeks: part of a change may be
    # missing data. Unknown coverage (older than the coverage kept) is not counted as one.
    uncertain: bool


def week_over_week(now: datetime, *, limit: int = 5) -> Trends:
    """APIs whose calls in the last 7 full days (hours) rose or fell most against the 7
    before."""
    end = timeline.floor(now, timeline.HOUR)
    middle = end - timedelta(days=7)
    start = middle - timedelta(days=7)
    rows = (
        ApiUsageHour.objects.filter(bucket__gte=start, bucket__lt=end)
        .exclude(api_id=0)
        .values("api_id")
        .annotate(
            this_week=Sum("requests", filter=Q(bucket__gte=middle)),
            last_week=Sum("requests", filter=Q(bucket__lt=middle)),
        )
        .values_list("api_id", "this_week", "last_week")
    )
    counts = [(api_id, this or 0, last or 0) for api_id, this, last in rows]
    names = api_names(api_id for api_id, _, _ in counts)
    trends = [
        Trend(names[api_id], this, last)
        for api_id, this, last in counts
        if max(this, last) >= TREND_MIN_CALLS and this != last
    ]

    def growth(trend: Trend) -> float:
        return trend.change if trend.change is not None else float("inf")

    gaining = sorted((t for t in trends if t.this_week > t.last_week), key=growth, reverse=True)
    losing = sorted((t for t in trends if t.this_week < t.last_week), key=growth)
    marks = {mark for _, mark in selectors.coverage(start, end, now=now)}
    return Trends(
        gaining[:limit], losing[:limit], uncertain=bool(marks & {timeline.GAP, timeline.PARTIAL})
    )


@dataclass(frozen=True, slots=True)
class Underused:
    version_id: int
    name: str
    lifecycle: str
    published_at: datetime | None
    calls: int

    @property
    def change_url(self) -> str:
        return reverse("admin:gateway_apiversion_change", args=[self.version_id])


def underused(now: datetime, *, limit: int = TOP) -> list[Underused]:
    """Published (or deprecated) versions with fewer than UNDERUSED_CALLS calls in the last
    30 days, fewest first: candidates to promote, or to retire."""
    since = timeline.floor(now - timedelta(days=30), timeline.DAY)
    versions = list(
        ApiVersion.objects.filter(
            lifecycle__in=(ApiVersion.Lifecycle.PUBLISHED, ApiVersion.Lifecycle.DEPRECATED)
        ).select_related("api")
    )
    calls = dict(
        ApiUsageDay.objects.filter(bucket__gte=since, version_id__in=[v.pk for v in versions])
        .values("version_id")
        .annotate(n=Sum("requests"))
        .values_list("version_id", "n")
    )
    quiet = [
        Underused(
            v.pk, f"{v.api.name} {v.version}", v.lifecycle, v.published_at, calls.get(v.pk, 0)
        )
        for v in versions
        if calls.get(v.pk, 0) < UNDERUSED_CALLS
    ]
    quiet.sort(key=lambda u: (u.calls, u.name))
    return quiet[:limit]

"""The API owner's dashboard pages (staff only, wrapped by admin's own admin_view in urls.py):
the full page, the panel admin's landing page loads into itself, the "throttled right now"
fragment its script polls, and one application's traffic page.

The views read (dashboard_queries, throttled_now, throttled_names) and turn numbers into
charts (charts); they write nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import redis
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from mgmt.analytics import charts, dashboard_queries, throttled_names, throttled_now, timeline
from mgmt.analytics.dashboard_queries import VersionTraffic, Window
from mgmt.analytics.selectors import Point
from mgmt.gateway.models import ApiKey, Application, Subscription

log = logging.getLogger(__name__)

# Rows of the throttled-now list; a flood of hundreds of applications shows its worst.
MAX_THROTTLED_ROWS: Final = 50
RANGE_CHOICES: Final = tuple(dashboard_queries.RANGE_LABELS.items())


# --- numbers to charts ----------------------------------------------------------------------


def _missing(point: Point) -> bool:
    """No data, as opposed to no traffic: a gap or unknown coverage with nothing counted."""
    return point.requests == 0 and point.coverage in (timeline.GAP, timeline.NONE)


def _ms(micros: float | None) -> float | None:
    return None if micros is None else micros / 1000


@dataclass(frozen=True, slots=True)
class TrafficCharts:
    traffic: SafeString
    error_rate: SafeString
    latency: SafeString
    gaps: int  # buckets with no data (collector gap)
    partial: int


def traffic_charts(
    points: Sequence[Point], window: Window, subject: str, prefix: str
) -> TrafficCharts:
    """Requests, error rate and p50/p99 of `points`, gaps left open, as three SVG charts."""
    buckets = [p.bucket for p in points]
    coverage = [p.coverage for p in points]
    kept = [not _missing(p) for p in points]

    def values(pick: Any) -> list[float | None]:
        return [pick(p) if keep else None for p, keep in zip(points, kept, strict=True)]

    per = {timeline.MINUTE: "minute", timeline.HOUR: "hour"}.get(window.step, "day")
    common: dict[str, Any] = {"buckets": buckets, "step": window.step, "coverage": coverage}
    traffic = charts.line_chart(
        chart_id=f"{prefix}-traffic",
        title=f"Requests per {per}: {subject}",
        desc=f"Requests, errors (5xx) and throttled calls (429) per {per} over the last "
        f"{window.label}. Hatched bands are collector gaps: no data, not zero traffic.",
        series=[
            charts.Series("requests", values(lambda p: p.requests)),
            charts.Series("errors (5xx)", values(lambda p: p.errors)),
            charts.Series("throttled (429)", values(lambda p: p.throttled)),
        ],
        area=True,
        **common,
    )
    error_rate = charts.line_chart(
        chart_id=f"{prefix}-errors",
        title=f"Error rate: {subject}",
        desc=f"Share of requests answered 5xx per {per}, in percent.",
        series=[
            charts.Series(
                "5xx %",
                values(lambda p: 100 * p.errors / p.requests if p.requests else None),
            )
        ],
        unit="%",
        **common,
    )
    latency = charts.line_chart(
        chart_id=f"{prefix}-latency",
        title=f"Latency p50 and p99: {subject}",
        desc=f"Median and 99th percentile of the total request duration per {per}, in "
        "milliseconds (within 3.2 % of the true value).",
        series=[
            charts.Series("p50", values(lambda p: _ms(p.p50_us))),
            charts.Series("p99", values(lambda p: _ms(p.p99_us))),
        ],
        unit=" ms",
        **common,
    )
    return TrafficCharts(
        mark_safe(traffic),  # noqa: S308 - built by charts, every text in it escaped
        mark_safe(error_rate),  # noqa: S308
        mark_safe(latency),  # noqa: S308
        gaps=coverage.count(timeline.GAP),
        partial=coverage.count(timeline.PARTIAL),
    )


@dataclass(frozen=True, slots=True)
class VersionRow:
    traffic: VersionTraffic
    sparkline: SafeString
    p50_ms: float | None
    p99_ms: float | None


def version_rows(
    versions: Sequence[VersionTraffic], coverage: Sequence[str], prefix: str
) -> list[VersionRow]:
    rows = []
    for number, version in enumerate(versions):
        values: list[float | None] = [
            None if n == 0 and mark in (timeline.GAP, timeline.NONE) else n
            for n, mark in zip(version.per_bucket, coverage, strict=False)
        ]
        svg = charts.sparkline(
            chart_id=f"{prefix}-spark-{number}",
            title=f"Requests over time: {version.name}",
            values=values,
            coverage=coverage,
        )
        rows.append(
            VersionRow(
                version,
                mark_safe(svg),  # noqa: S308 - built by charts, every text in it escaped
                _ms(version.p50_us),
                _ms(version.p99_us),
            )
        )
    return rows


# --- throttled right now --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottledNow:
    available: bool
    rows: list[throttled_names.ThrottledApplication] = field(default_factory=list)
    truncated: bool = False
    window_seconds: int = throttled_now.WINDOW_MS // 1000


def read_throttled(now: datetime, application_id: int | None = None) -> ThrottledNow:
    """The last minute's throttled applications with their names; `available` is False
    when the throttle events cannot be read (the page says so instead of "nobody")."""
    try:
        recent = throttled_now.read_recent(
            throttled_now.connect(settings.TOLLGATE_ANALYTICS_REDIS_URL)
        )
    except redis.RedisError as error:
        # The URL may hold a password: the error's type is enough to go on.
        log.warning("throttle events unreadable: %s", type(error).__name__)
        return ThrottledNow(available=False)
    rows = throttled_now.aggregate(recent.events, now_ms=recent.now_ms)
    if application_id is not None:
        rows = [row for row in rows if row.application_id == application_id]
    return ThrottledNow(
        available=True,
        rows=throttled_names.throttled_applications(rows[:MAX_THROTTLED_ROWS], now),
        truncated=recent.truncated or len(rows) > MAX_THROTTLED_ROWS,
    )


# --- views ----------------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


def panel_context(request: HttpRequest) -> dict[str, Any]:
    """Everything the dashboard panel shows, for the range and version the query asks."""
    now = timezone.now()
    window = dashboard_queries.window(request.GET.get("range"), now)
    focus = _int(request.GET.get("version"))
    versions = dashboard_queries.per_version(window)
    subject = "all traffic"
    if focus is not None:
        subject = dashboard_queries.version_names([focus])[focus]
        points = dashboard_queries.traffic(window, now, version_id=focus)
    else:
        points = dashboard_queries.traffic(window, now)
    coverage = [p.coverage for p in points]
    consumers = dashboard_queries.top_consumers(window)
    return {
        "window": window,
        "ranges": RANGE_CHOICES,
        "focus": focus,
        "subject": subject,
        "charts": traffic_charts(points, window, subject, "tg"),
        "versions": version_rows(versions, coverage, "tg"),
        "consumers": consumers,
        "consumer_bars": mark_safe(  # noqa: S308 - built by charts, every text escaped
            charts.bar_chart(
                chart_id="tg-consumers",
                title=f"Top consumers by requests, last {window.label}",
                desc="Requests per application in the range, busiest first.",
                bars=[
                    charts.Bar(
                        f"{c.application.name} ({c.application.organization})",
                        c.requests,
                        c.application.owner_url,
                    )
                    for c in consumers
                ],
            )
        ),
        "clusters": dashboard_queries.error_clusters(window),
        "trends": dashboard_queries.week_over_week(now),
        "underused": dashboard_queries.underused(now),
        "underused_calls": dashboard_queries.UNDERUSED_CALLS,
        "trends_min": dashboard_queries.TREND_MIN_CALLS,
        "throttled": read_throttled(now),
        "throttled_query": "",
    }


def dashboard(request: HttpRequest) -> HttpResponse:
    """The dashboard as a page of its own (also what the landing page offers without JS)."""
    context = {
        **admin.site.each_context(request),
        **panel_context(request),
        "title": "Traffic",
    }
    return TemplateResponse(request, "analytics/dashboard.html", context)


def panel(request: HttpRequest) -> HttpResponse:
    """The dashboard alone, for admin's landing page to load into itself."""
    return TemplateResponse(request, "analytics/_panel.html", panel_context(request))


def throttled(request: HttpRequest) -> HttpResponse:
    """The throttled-now list, polled every 2 s by dashboard.js; `?application=` narrows it
    to one application."""
    context = {"throttled": read_throttled(timezone.now(), _int(request.GET.get("application")))}
    response = TemplateResponse(request, "analytics/_throttled_rows.html", context)
    response["Cache-Control"] = "no-store"
    return response


def application(request: HttpRequest, application_id: int) -> HttpResponse:
    """One application's traffic and throttles: for its owner's questions about one caller."""
    app = get_object_or_404(Application.objects.select_related("organization"), pk=application_id)
    now = timezone.now()
    window = dashboard_queries.window(request.GET.get("range"), now)
    points = dashboard_queries.traffic(window, now, application_id=app.pk)
    coverage = [p.coverage for p in points]
    versions = dashboard_queries.per_version(window, application_id=app.pk)
    subscriptions = Subscription.objects.filter(application=app).select_related("plan", "product")
    context = {
        **admin.site.each_context(request),
        "title": f"Traffic of {app.name}",
        "application": app,
        "window": window,
        "ranges": RANGE_CHOICES,
        "charts": traffic_charts(points, window, app.name, "tg-app"),
        "versions": version_rows(versions, coverage, "tg-app"),
        "throttled_total": sum(p.throttled for p in points),
        "subscriptions": subscriptions,
        "keys": ApiKey.objects.filter(application=app).order_by("-created_at"),
        "now": now,
        "throttled": read_throttled(now, app.pk),
        "throttled_query": f"?application={app.pk}",
    }
    return TemplateResponse(request, "analytics/application.html", context)

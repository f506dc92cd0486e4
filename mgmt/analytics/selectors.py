"""Shared read helpers over the usage rollups, for the dashboards, the portal and the API.

    resolution_for(start, end) -> type[UsageRow]
        UsageMinute for ranges up to 6 h, UsageHour up to 14 days, UsageDay beyond.

    rollup_for(start, end, filters) -> type[UsageRow] | type[ApiUsageRow]
        That resolution's API-level table (ApiUsageMinute...) when `filters` name no
        application or route (all traffic, an API, a version, a status class: about 20
        times fewer rows), else the application-level one.

    series(filters, start, end, *, now=None, quantiles=True) -> list[Point]
        One Point per bucket of [start, end) at that resolution (UTC, oldest first, empty
        buckets included): requests, errors, throttled, p50_us / p99_us (µs, from the merged
        latency histograms; None without requests, or with quantiles=False) and coverage
        ("full" | "partial" | "gap" | "none", see mgmt.analytics.timeline). `filters` are
        queryset filter kwargs on the usage model, e.g. {"api_id": 3} or
        {"application_id__in": [4, 5]}; {} is all traffic. `now` defaults to the clock.
        Merging histograms is the costly part: about 1 s per million rows read on
        PostgreSQL (tests/bench/analytics_queries.py); quantiles=False skips it. Reads the
        table rollup_for picks.

    merged_histograms(rows, by="bucket") -> dict[value, dict[int, int]]
        The latency histograms of a usage queryset merged per bucket or per dimension
        (e.g. by="version_id"), summed by the database on PostgreSQL; read quantiles with
        accesslog.histogram.quantile.

    coverage(start, end, *, now=None) -> list[tuple[datetime, str]]
        Only the coverage marks of those buckets (coverage is per collector node, not per
        API: one mark applies to every series of the same range).

A gap is never zero traffic: a chart draws "gap" (and "none") buckets as missing data.
Ranges must be timezone-aware datetimes. Names of ids are resolved by the callers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BigIntegerField, Func, Min, QuerySet, Sum
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from accesslog import histogram
from mgmt.analytics import timeline
from mgmt.analytics.api_rollup import API_LEVEL
from mgmt.analytics.models import (
    API_DIMENSIONS,
    DIMENSIONS,
    ApiUsageRow,
    Coverage,
    UsageDay,
    UsageHour,
    UsageMinute,
    UsageRow,
)

if TYPE_CHECKING:
    from django.db.models.sql.compiler import _AsSqlType

_GROUPABLE = frozenset({"bucket", *DIMENSIONS})
_MODELS: dict[timedelta, type[UsageRow]] = {
    timeline.MINUTE: UsageMinute,
    timeline.HOUR: UsageHour,
    timeline.DAY: UsageDay,
}
# The fields an API-level row has: a filter on any other needs the application-level rows.
_API_FIELDS = frozenset({"bucket", *API_DIMENSIONS})
Rollup = type[UsageRow] | type[ApiUsageRow]


class Point(NamedTuple):
    bucket: datetime
    requests: int
    errors: int
    throttled: int
    p50_us: float | None
    p99_us: float | None
    coverage: str


def resolution_for(start: datetime, end: datetime) -> type[UsageRow]:
    return _MODELS[timeline.step_for(start, end)]


def rollup_for(start: datetime, end: datetime, filters: Mapping[str, Any]) -> Rollup:
    model = resolution_for(start, end)
    if all(name.split("__", 1)[0] in _API_FIELDS for name in filters):
        return API_LEVEL[model]
    return model


def series(
    filters: Mapping[str, Any],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    quantiles: bool = True,
) -> list[Point]:
    step = timeline.step_for(start, end)
    starts = timeline.buckets(start, end, step)
    if not starts:
        return []
    model = rollup_for(start, end, filters)
    rows = model._default_manager.filter(bucket__gte=starts[0], bucket__lt=end, **filters)
    sums = {
        bucket: (requests, errors, throttled)
        for bucket, requests, errors, throttled in rows.values("bucket")
        .annotate(r=Sum("requests"), e=Sum("errors"), t=Sum("throttled"))
        .values_list("bucket", "r", "e", "t")
    }
    latencies = merged_histograms(rows) if quantiles else {}
    marks = _marks(starts, end, step, now=now)
    points = []
    for bucket, mark in zip(starts, marks, strict=True):
        requests, errors, throttled = sums.get(bucket, (0, 0, 0))
        merged = latencies.get(bucket, {})
        points.append(
            Point(
                bucket,
                requests,
                errors,
                throttled,
                histogram.quantile(merged, 0.5),
                histogram.quantile(merged, 0.99),
                mark,
            )
        )
    return points


def coverage(
    start: datetime, end: datetime, *, now: datetime | None = None
) -> list[tuple[datetime, str]]:
    step = timeline.step_for(start, end)
    starts = timeline.buckets(start, end, step)
    return list(zip(starts, _marks(starts, end, step, now=now), strict=True))


def merged_histograms(
    rows: QuerySet[UsageRow] | QuerySet[ApiUsageRow], by: str = "bucket"
) -> dict[Any, dict[int, int]]:
    """The latency histograms of `rows` (application- or API-level) merged per value of
    `by` (a field of theirs).

    On PostgreSQL the database splits and sums them (a week of a busy gateway is a million
    rows: far too many to decode in Python); elsewhere (SQLite, `make run`) Python does.
    """
    if by not in _GROUPABLE:
        raise ValueError(f"histograms are merged per bucket or per dimension, not {by!r}")
    with_histogram = rows.exclude(histogram="").values(by, "histogram")
    merged: dict[Any, dict[int, int]] = defaultdict(dict)
    if connection.vendor != "postgresql":
        for key, text in with_histogram.values_list(by, "histogram").iterator(5000):
            histogram.merge(merged[key], histogram.decode(text))
        return merged
    # Django's own compiled SQL for the queryset (its values stay parameters), and a field
    # name checked above (the usage fields' columns are named as the fields).
    try:
        inner, params = with_histogram.query.sql_with_params()
    except EmptyResultSet:  # e.g. version_id__in=[]: no rows, no query
        return merged
    column = connection.ops.quote_name(by)
    sql = (
        f"SELECT r.{column}, split_part(part, ':', 1)::int, "  # noqa: S608
        "sum(split_part(part, ':', 2)::bigint) "
        f"FROM ({inner}) r CROSS JOIN LATERAL unnest(string_to_array(r.histogram, ',')) part "
        "GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for key, index, count in cursor.fetchall():
            merged[key][index] = int(count)
    return merged


def _marks(
    starts: list[datetime], end: datetime, step: timedelta, *, now: datetime | None
) -> list[str]:
    if not starts:
        return []
    now = now or timezone.now()
    # Minutes that ended within the settle delay (plus one fold period) are not folded yet.
    settled = int(now.timestamp()) - settings.TOLLGATE_ANALYTICS_SETTLE_SECONDS - 60
    folded_before = settled // 60
    # Before the oldest coverage kept nothing is known: no minute is walked there.
    oldest = Coverage.objects.aggregate(oldest=Min("bucket"))["oldest"]
    if oldest is None:
        return [timeline.NONE] * len(starts)
    first = timeline.unix_minute(max(starts[0], oldest))
    last = -(-int(end.timestamp()) // 60)  # the minute `end` falls in, or starts
    cover: dict[int, dict[str, int]] = defaultdict(dict)
    rows = Coverage.objects.filter(
        bucket__gte=timeline.minute_start(first - timeline.LOOKBACK_MINUTES),
        bucket__lt=end,
    )
    # The minute as an integer from the database: parsing a datetime per row was most of
    # the time of a week's chart.
    for minute, node, seconds in rows.annotate(minute=_UnixMinute("bucket")).values_list(
        "minute", "node", "seconds"
    ):
        cover[minute][node] = seconds
    minutes = range(first, last)
    marks = timeline.minute_marks(cover, minutes, folded_before=folded_before)
    per_bucket = _minutes_in(step)
    out: list[str] = []
    for bucket in starts:
        offset = timeline.unix_minute(bucket) - first
        inside = marks[max(offset, 0) : max(offset + per_bucket, 0)]
        out.append(timeline.combine(inside))
    return out


def _minutes_in(step: timedelta) -> int:
    return int(step / timeline.MINUTE)


class _UnixMinute(Func):
    """floor(unix seconds / 60) of a datetime column, on PostgreSQL and SQLite."""

    output_field = BigIntegerField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _AsSqlType:
        return self.as_sql(
            compiler,
            connection,
            template="(floor(extract(epoch FROM %(expressions)s) / 60))::bigint",
            **extra,
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _AsSqlType:
        return self.as_sql(
            compiler,
            connection,
            template="(CAST(strftime('%%s', %(expressions)s) AS INTEGER) / 60)",
            **extra,
        )

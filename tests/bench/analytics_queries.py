"""The dashboard's analytics queries over one month of generated traffic, timed on PostgreSQL.

`python -m tests.bench.analytics_queries` (TOLLGATE_DATABASE_URL names the server): creates
a database of its own next to the one named (`<name>_analytics_bench`), migrates it, fills
it with INSERT ... SELECT from generate_series (seconds, not an ORM loop), times each query
(median of a few runs after one cold run) and drops the database unless told to keep it.

The traffic (realistic for a busy single-database install; printed with the table):
- 100 APIs, one version each, 10 routes each; 1,000 applications, each calling 5 APIs on 2
  routes of each: 5,000 (application, API) pairs.
- day rows, 30 days: per pair and day, 2xx on both routes, 4xx on one, 5xx on the other.
- hour rows, 30 days: per pair, active in half the hours: 2xx on both routes, and an error
  row (4xx or 5xx) in one active hour of four.
- minute rows, the last 7 days (their retention): 550 of the pairs per minute, one row each
  (2xx, or for one in fifty an error class).
- every row carries a latency histogram: 1 to 6 buckets on minute rows, 6 to 14 on hour
  rows, 10 to 20 on day rows; coverage: 3 Envoy nodes, full.
- the API-level rows (no application, no route) are summed from those with one INSERT ...
  SELECT ... GROUP BY per resolution (mgmt.analytics.api_rollup.rebuild), as the fold keeps
  them. Rows marked "application-level" read the application-level rows for the same
  answer (a filter of application_id >= 0), as every chart did before the API-level rows.
- the rows are CLUSTERed in time order, as the fold writes them, and the bench database has
  random_page_cost = 1.1 (SSD storage; PostgreSQL's default of 4 assumes spinning disks).
Targets are printed, never asserted: each query under 1 s; the fold's work for one minute
well within its minute (10 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

TARGET_SECONDS: Final = 1.0
FOLD_TARGET_SECONDS: Final = 10.0
RUNS: Final = 3
DEFAULT_URL: Final = "postgresql://postgres@127.0.0.1:5432/tollgate"

# A pool of latency histograms per resolution (accesslog.histogram text, strictly rising
# indexes in the 0.5 ms to 60 ms range): a minute row of a few requests has 1 to 6 buckets,
# an hour row 6 to 14, a day row 10 to 20. Each row takes one by a hash of its coordinates.
_HISTOGRAM_TABLE: Final = (
    "CREATE TABLE bench_histograms (kind text, i int, h text, PRIMARY KEY (kind, i))"
)
_HISTOGRAM_POOL: Final = """
    INSERT INTO bench_histograms
    SELECT kind, i, (SELECT string_agg((w.base + j * w.step)::text || ':'
                                       || (1 + (i * 31 + j * 17) %% 40)::text, ',' ORDER BY j)
                     FROM generate_series(0, w.width - 1) j)
    FROM (VALUES ('m', 1, 6), ('h', 6, 14), ('d', 10, 20)) AS k(kind, lo, hi)
    CROSS JOIN generate_series(0, 996) i
    CROSS JOIN LATERAL (SELECT lo + i %% (hi - lo + 1) AS width, 96 + i %% 60 AS base,
                               1 + i %% 3 AS step) w
"""
_COLUMNS: Final = (
    "bucket, api_id, version_id, route_id, application_id, status_class, requests, errors, "
    "throttled, bytes_in, bytes_out, duration_us_sum, upstream_us_sum, histogram"
)
# One row per (bucket b, pair q, pick x) where the pick is kept; pair q (0..4999) is
# application q / 5 + 1 calling API ((app * 7 + k * 20) % 100) + 1 (k = q % 5) on routes
# r1 and r2; h is a hash of the coordinates that decides activity, n the request count.
_ROWS: Final = """
    INSERT INTO {table} ({columns})
    SELECT b, p.api, p.api, p.api * 100 + x.route, p.app, x.klass,
           n, CASE WHEN x.klass = '5xx' THEN n ELSE 0 END,
           CASE WHEN x.klass = '4xx' THEN n / 3 ELSE 0 END,
           n * 310, n * 2100, n * 18000, n * 15000, bh.h
    FROM generate_series(%s::timestamptz, %s::timestamptz, %s::interval) b
    CROSS JOIN {pairs} q
    CROSS JOIN LATERAL (SELECT q.q / 5 + 1 AS app, q.q %% 5 AS k) pk
    CROSS JOIN LATERAL (
        SELECT pk.app, pk.k, ((pk.app * 7 + pk.k * 20) %% 100) + 1 AS api,
               (pk.app + pk.k) %% 10 AS r1, (pk.app + pk.k + 3) %% 10 AS r2,
               (pk.app * 2654435761 + pk.k * 40503 + extract(epoch FROM b)::bigint / 60)
                 %% 1000 AS h
    ) p
    CROSS JOIN LATERAL (VALUES {picks}) AS x(route, klass, keep)
    CROSS JOIN LATERAL (SELECT 1 + (p.h * 7919 + x.route * 104729) %% {scale} AS n) c
    JOIN bench_histograms bh ON bh.kind = '{kind}' AND bh.i = (p.h * 13 + x.route) %% 997
    WHERE x.keep
"""


def _statements(now: datetime) -> list[tuple[str, str, list[Any]]]:
    """(table, SQL, params) in the order to run them. Only this module's constants go into
    the SQL text; %% is SQL's modulo, escaped for the parameters."""
    day0 = now.replace(hour=0, minute=0) - timedelta(days=29)
    hour0 = now.replace(minute=0) - timedelta(days=30) + timedelta(hours=1)
    minute0 = now - timedelta(days=7) + timedelta(minutes=1)
    every_pair = "generate_series(0, 4999)"
    # 550 distinct pairs per minute (i * 9 + minute % 9 < 5000): 10 % of them.
    some_pairs = (
        "LATERAL (SELECT i * 9 + (extract(epoch FROM b)::bigint / 60) %% 9 AS q "
        "FROM generate_series(0, 549) i)"
    )
    tables = [
        (
            "analytics_usageday",
            every_pair,
            "(p.r1, '2xx', true), (p.r2, '2xx', true), (p.r1, '4xx', true), (p.r2, '5xx', true)",
            40_000,
            "d",
            [day0, now, "1 day"],
        ),
        (
            "analytics_usagehour",
            every_pair,
            "(p.r1, '2xx', p.h < 500), (p.r2, '2xx', p.h < 500), "
            "(p.r1, CASE WHEN p.h %% 2 = 0 THEN '4xx' ELSE '5xx' END, p.h < 125)",
            2_000,
            "h",
            [hour0, now, "1 hour"],
        ),
        (
            "analytics_usageminute",
            some_pairs,
            "(CASE WHEN p.h %% 2 = 0 THEN p.r1 ELSE p.r2 END, '2xx', q.q %% 50 < 49), "
            "(p.r2, CASE WHEN p.h %% 2 = 0 THEN '4xx' ELSE '5xx' END, q.q %% 50 = 49)",
            40,
            "m",
            [minute0, now, "1 minute"],
        ),
    ]
    statements: list[tuple[str, str, list[Any]]] = [
        ("bench_histograms", _HISTOGRAM_TABLE, []),
        ("bench_histograms", _HISTOGRAM_POOL, []),
    ]
    for table, pairs, picks, scale, kind, params in tables:
        sql = _ROWS.format(
            table=table, columns=_COLUMNS, pairs=pairs, picks=picks, scale=scale, kind=kind
        )
        statements.append((table, sql, params))
    statements.append(
        (
            "analytics_coverage",
            "INSERT INTO analytics_coverage (bucket, node, seconds) "
            "SELECT b, 'envoy-' || n, 60 FROM generate_series(%s::timestamptz, "
            "%s::timestamptz, %s::interval) b, generate_series(1, 3) n",
            [minute0, now, "1 minute"],
        )
    )
    return statements


def _bench_url(url: str) -> tuple[str, str]:
    """The bench database's URL and name: next to the one `url` names."""
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "tollgate") + "_analytics_bench"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _recreate(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')


def _drop(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _generate(now: datetime) -> list[tuple[str, int, float]]:
    from django.db import connection

    from mgmt.analytics import api_rollup

    made = []
    with connection.cursor() as cursor:
        for table, sql, params in _statements(now):
            started = time.perf_counter()
            cursor.execute(sql, params)
            made.append((table, cursor.rowcount, time.perf_counter() - started))
    for source, target in api_rollup.API_LEVEL.items():
        started = time.perf_counter()
        api_rollup.rebuild(source, target)
        count = target._default_manager.count()
        made.append((target._meta.db_table, count, time.perf_counter() - started))
    with connection.cursor() as cursor:
        # The fold writes rows in time order; CLUSTER gives the generated ones that order.
        started = time.perf_counter()
        for resolution in ("minute", "hour", "day"):
            for table in (f"analytics_usage{resolution}", f"analytics_apiusage{resolution}"):
                cursor.execute(f"CLUSTER {table} USING {table}_dims")
        cursor.execute("VACUUM ANALYZE")
        made.append(("CLUSTER + VACUUM ANALYZE", 0, time.perf_counter() - started))
    return made


def _time(call: Callable[[], object]) -> tuple[float, float]:
    """(cold, median of RUNS warm) seconds."""
    started = time.perf_counter()
    call()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm)


def _queries(now: datetime) -> list[tuple[str, Callable[[], object]]]:
    from django.db.models import Sum

    from mgmt.analytics import dashboard_queries, selectors
    from mgmt.analytics.models import ApiUsageHour, UsageDay, UsageHour

    # Selects every row, but only the application-level tables have the field.
    every_app = {"application_id__gte": 0}
    month = now - timedelta(days=30)
    week = now - timedelta(days=7)

    def traffic_per_api() -> object:
        return list(
            UsageDay.objects.filter(bucket__gte=month, bucket__lt=now)
            .values("api_id")
            .annotate(requests=Sum("requests"), errors=Sum("errors"))
            .order_by("-requests")
        )

    def errors_by_route() -> object:
        return list(
            UsageHour.objects.filter(
                bucket__gte=week, bucket__lt=now, status_class__in=("4xx", "5xx")
            )
            .values("api_id", "route_id", "status_class")
            .annotate(count=Sum("requests"))
            .order_by("-count")[:15]
        )

    d30 = dashboard_queries.window("30d", now)
    d7 = dashboard_queries.window("7d", now)
    d24 = dashboard_queries.window("24h", now)
    return [
        ("traffic per API, 30 d (day rows)", traffic_per_api),
        (
            "series of one API, 30 d (day rows)",
            lambda: selectors.series({"api_id": 42}, month, now),
        ),
        ("top consumers, 30 d (dashboard)", lambda: dashboard_queries.top_consumers(d30)),
        ("errors by route, 7 d (hour rows)", errors_by_route),
        ("error clusters, 7 d (dashboard)", lambda: dashboard_queries.error_clusters(d7)),
        (
            "one application's usage, 30 d (series)",
            lambda: selectors.series({"application_id": 512}, month, now),
        ),
        (
            "one application's versions, 30 d (dashboard)",
            lambda: dashboard_queries.per_version(d30, application_id=512),
        ),
        (
            "all traffic, 6 h minute series",
            lambda: selectors.series({}, now - timedelta(hours=6), now),
        ),
        (
            "one API, 6 h minute series",
            lambda: selectors.series({"api_id": 42}, now - timedelta(hours=6), now),
        ),
        ("all traffic, 24 h (dashboard)", lambda: dashboard_queries.traffic(d24, now)),
        ("all traffic, 7 d (dashboard)", lambda: dashboard_queries.traffic(d7, now)),
        (
            "all traffic, 7 d (dashboard, application-level rows)",
            lambda: dashboard_queries.traffic(d7, now, **every_app),
        ),
        ("all traffic, 30 d (dashboard)", lambda: dashboard_queries.traffic(d30, now)),
        (
            "all traffic, 30 d (dashboard, application-level rows)",
            lambda: dashboard_queries.traffic(d30, now, **every_app),
        ),
        (
            "all traffic, 6 h minute series (application-level rows)",
            lambda: selectors.series(every_app, now - timedelta(hours=6), now),
        ),
        (
            "all traffic, 7 d, counts only (series)",
            lambda: selectors.series({}, week, now, quantiles=False),
        ),
        ("busiest versions, 7 d (dashboard)", lambda: dashboard_queries.per_version(d7)),
        (
            "busiest versions, 7 d (dashboard, application-level rows)",
            lambda: dashboard_queries.per_version(d7, **every_app),
        ),
        (
            "latency of 12 versions, 7 d (merged_histograms)",
            lambda: selectors.merged_histograms(
                ApiUsageHour.objects.filter(bucket__gte=week, version_id__in=range(1, 13)),
                "version_id",
            ),
        ),
        (
            "latency of 12 versions, 7 d (merged_histograms, application-level rows)",
            lambda: selectors.merged_histograms(
                UsageHour.objects.filter(bucket__gte=week, version_id__in=range(1, 13)),
                "version_id",
            ),
        ),
        ("week over week (dashboard)", lambda: dashboard_queries.week_over_week(now)),
    ]


def _fold_batch(now: datetime) -> Callable[[], object]:
    """Applies the last minute's rows again as a new batch (late data): the fold's work for
    one minute at this volume, its hour and day recomputed, and the API-level rows of all
    three."""
    import uuid

    from accesslog.usage_keys import Dims
    from mgmt.analytics import fold_store
    from mgmt.analytics.fold_rows import COUNTERS, Counts
    from mgmt.analytics.models import DIMENSIONS, UsageMinute

    minute = int(now.timestamp()) // 60 - 1
    rows = {
        Dims(*values[:5]): Counts(**dict(zip(COUNTERS, values[5:], strict=True)))
        for values in UsageMinute.objects.filter(bucket=now - timedelta(minutes=1)).values_list(
            *DIMENSIONS, *COUNTERS
        )
    }

    def apply() -> object:
        return fold_store.apply_usage(batch_id=uuid.uuid4().hex, minute=minute, rows=rows)

    return apply


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--reuse", action="store_true", help="time the data a --keep run left (no generation)"
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    url, name = _bench_url(os.environ.get("TOLLGATE_DATABASE_URL") or DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the analytics bench runs on PostgreSQL: set TOLLGATE_DATABASE_URL")
    if not args.reuse:
        _recreate(url, name)
    os.environ["TOLLGATE_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mgmt.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from mgmt.analytics.models import UsageMinute

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        if args.reuse:
            latest = UsageMinute.objects.order_by("-bucket").values_list("bucket", flat=True)
            now = latest[0] + timedelta(minutes=1)
        else:
            call_command("migrate", verbosity=0, interactive=False)
            print(f"generating one month of traffic in {name} ...", flush=True)
            for table, rows, seconds in _generate(now):
                print(f"  {table:<24} {rows:>11,} rows  {seconds:6.1f} s", flush=True)
        print()
        print("| query | cold s | warm s (median) | target |")
        print("|---|---:|---:|---|")
        timed = [(label, call, TARGET_SECONDS) for label, call in _queries(now)]
        # The fold runs once a minute: its budget is the minute, not a page load.
        fold_label = "fold: one minute's batch (550 rows), hour, day and API-level rows"
        timed.append((fold_label, _fold_batch(now), FOLD_TARGET_SECONDS))
        for label, call, target in timed:
            cold, warm = _time(call)
            verdict = "PASS" if warm < target else "MISS"
            print(f"| {label} | {cold:.3f} | {warm:.3f} | < {target:g} s {verdict} |", flush=True)
    finally:
        connection.close()
        if not args.keep:
            _drop(url, name)


if __name__ == "__main__":
    main()

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
- minute rows, the last 7 days (their retention): 10 % of the pairs per minute, one 2xx row
  each, and an error row for 1 % of the pairs.
- every row carries a latency histogram of 6 to 8 buckets; coverage: 3 Envoy nodes, full.
Targets are printed, never asserted: each query under 1 s.
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
RUNS: Final = 3
DEFAULT_URL: Final = "postgresql://postgres@127.0.0.1:5432/tollgate"

# Latency histograms (accesslog.histogram indexes, about 0.4 ms to 60 ms) picked per row.
_HISTOGRAMS: Final = (
    "120:3,128:9,136:14,144:6,152:2,176:1",
    "118:1,126:5,134:11,142:9,150:3,166:2,190:1",
    "130:2,138:8,146:12,154:7,162:3,178:1,205:1",
    "110:4,122:10,132:9,140:5,158:2,180:1",
    "140:6,148:15,156:10,164:4,172:2,196:1,214:1,230:1",
    "124:2,132:6,140:13,148:8,156:4,170:1",
)


def _sql_tables(now: datetime) -> list[tuple[str, str, list[Any]]]:
    """(label, INSERT ... SELECT, params) per table. Pairs: app a (1..1000) calls API
    ((a*7 + k*20) % 100) + 1 for k in 0..4, on routes (a+k) % 10 and (a+k+3) % 10."""
    pairs = """
        SELECT a AS app, k,
               ((a * 7 + k * 20) %% 100) + 1 AS api,
               (a + k) %% 10 AS r1, (a + k + 3) %% 10 AS r2
        FROM generate_series(1, 1000) a, generate_series(0, 4) k
    """
    hist = "(ARRAY[" + ",".join(f"'{h}'" for h in _HISTOGRAMS) + "])"
    columns = (
        "bucket, api_id, version_id, route_id, application_id, status_class, requests, "
        "errors, throttled, bytes_in, bytes_out, duration_us_sum, upstream_us_sum, histogram"
    )
    # One row per (bucket, pair, route, class) kept by `picks` (a VALUES of route, class and
    # whether to keep it); `n` is the row's request count, a cheap hash of its coordinates.
    # Only constants of this module go into the SQL text (%% is SQL's modulo, escaped).
    row_select = f"""
        SELECT b, p.api, p.api, p.api * 100 + x.route, p.app, x.klass,
               n, CASE WHEN x.klass = '5xx' THEN n ELSE 0 END,
               CASE WHEN x.klass = '4xx' THEN n / 3 ELSE 0 END,
               n * 310, n * 2100, n * 18000, n * 15000,
               {hist}[1 + (p.app + p.k + extract(epoch FROM b)::bigint / 60) %% 6]
        FROM ({pairs}) p
        CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, %s::interval) b
        CROSS JOIN LATERAL (VALUES {{picks}}) AS x(route, klass, keep)
        CROSS JOIN LATERAL (SELECT 1 + ((p.app * 7919 + p.k * 104729
                                          + extract(epoch FROM b)::bigint / 60) %% {{scale}})
                            AS n) c
        WHERE x.keep
    """  # noqa: S608
    hashed = "((p.app * 2654435761 + p.k * 40503 + extract(epoch FROM b)::bigint / 60) %% 1000)"
    day0 = now.replace(hour=0, minute=0) - timedelta(days=29)
    hour0 = now.replace(minute=0) - timedelta(days=30) + timedelta(hours=1)
    minute0 = now - timedelta(days=7) + timedelta(minutes=1)
    day_picks = "(p.r1, '2xx', true), (p.r2, '2xx', true), (p.r1, '4xx', true), (p.r2, '5xx', true)"
    hour_picks = (
        f"(p.r1, '2xx', {hashed} < 500), (p.r2, '2xx', {hashed} < 500), "
        f"(p.r1, CASE WHEN {hashed} %% 2 = 0 THEN '4xx' ELSE '5xx' END, {hashed} < 125)"
    )
    minute_picks = (
        f"(CASE WHEN {hashed} %% 2 = 0 THEN p.r1 ELSE p.r2 END, '2xx', {hashed} < 100), "
        f"(p.r2, CASE WHEN {hashed} %% 2 = 0 THEN '4xx' ELSE '5xx' END, {hashed} >= 990)"
    )
    return [
        (
            "analytics_usageday",
            f"INSERT INTO analytics_usageday ({columns}) "
            + row_select.format(picks=day_picks, scale=40_000),
            [day0, now, "1 day"],
        ),
        (
            "analytics_usagehour",
            f"INSERT INTO analytics_usagehour ({columns}) "
            + row_select.format(picks=hour_picks, scale=2_000),
            [hour0, now, "1 hour"],
        ),
        (
            "analytics_usageminute",
            f"INSERT INTO analytics_usageminute ({columns}) "
            + row_select.format(picks=minute_picks, scale=40),
            [minute0, now, "1 minute"],
        ),
        (
            "analytics_coverage",
            "INSERT INTO analytics_coverage (bucket, node, seconds) "
            "SELECT b, 'envoy-' || n, 60 FROM generate_series(%s::timestamptz, "
            "%s::timestamptz, %s::interval) b, generate_series(1, 3) n",
            [minute0, now, "1 minute"],
        ),
    ]


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
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _generate(now: datetime) -> list[tuple[str, int, float]]:
    from django.db import connection

    made = []
    with connection.cursor() as cursor:
        for table, sql, params in _sql_tables(now):
            started = time.perf_counter()
            cursor.execute(sql, params)
            made.append((table, cursor.rowcount, time.perf_counter() - started))
        cursor.execute("VACUUM ANALYZE")
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
    from mgmt.analytics.models import UsageDay, UsageHour

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
        ("all traffic, 30 d (dashboard)", lambda: dashboard_queries.traffic(d30, now)),
        ("busiest versions, 7 d (dashboard)", lambda: dashboard_queries.per_version(d7)),
        ("week over week (dashboard)", lambda: dashboard_queries.week_over_week(now)),
    ]


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
        print("| query | cold s | warm s (median) | < 1 s |")
        print("|---|---:|---:|---|")
        for label, call in _queries(now):
            cold, warm = _time(call)
            verdict = "PASS" if warm < TARGET_SECONDS else "MISS"
            print(f"| {label} | {cold:.3f} | {warm:.3f} | {verdict} |", flush=True)
    finally:
        connection.close()
        if not args.keep:
            _drop(url, name)


if __name__ == "__main__":
    main()

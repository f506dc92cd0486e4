"""The API-level rollups: always the sums of the application-level rows below them, after
folds, reruns and late batches; rebuilt the same way in bulk; read by the selectors
wherever no application or route is asked for, with the same answers."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accesslog import histogram
from accesslog.usage_keys import Dims
from mgmt.analytics import api_rollup, dashboard_queries, fold_store, retention, selectors
from mgmt.analytics.fold_rows import COUNTERS, Counts
from mgmt.analytics.models import (
    ApiUsageDay,
    ApiUsageHour,
    ApiUsageMinute,
    Coverage,
    UsageDay,
    UsageHour,
    UsageMinute,
)
from mgmt.analytics.retention_rules import Retention

pytestmark = [pytest.mark.db, pytest.mark.django_db]

# 2030-05-06 10:00 UTC, as a unix minute, and a moment a day later.
HOUR0 = int(datetime(2030, 5, 6, 10, 0, tzinfo=UTC).timestamp()) // 60
NOW = datetime(2030, 5, 7, 10, 0, tzinfo=UTC)
# Two applications and two routes of API 1 version 11, another version, unattributed.
A = Dims(1, 11, 111, 7, "2xx")
B = Dims(1, 11, 112, 8, "2xx")
C = Dims(1, 11, 111, 8, "5xx")
D = Dims(1, 12, 121, 7, "2xx")
U = Dims(0, 0, 0, 0, "4xx")


def _counts(n: int, micros: int) -> Counts:
    return Counts(
        requests=n,
        errors=n if micros > 50_000 else 0,
        throttled=n // 3,
        bytes_in=n * 100,
        bytes_out=n * 1000,
        duration_us_sum=n * micros,
        upstream_us_sum=n * micros // 2,
        histogram={histogram.bucket_of(micros): n, histogram.bucket_of(micros * 3): 1},
    )


def _fold(batch_id: str, minute: int, rows: dict[Dims, Counts]) -> bool:
    return fold_store.apply_usage(batch_id=batch_id, minute=minute, rows=rows)


def _api_level(model: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The rows of an API-level table: key -> counters and decoded histogram."""
    return {
        (r.bucket, r.api_id, r.version_id, r.status_class): (
            *(getattr(r, name) for name in COUNTERS),
            histogram.decode(r.histogram),
        )
        for r in model.objects.all()
    }


def _summed(model: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The application-level rows of `model` summed per API-level key, in Python."""
    sums: dict[tuple[Any, ...], Counts] = defaultdict(Counts)
    for r in model.objects.all():
        counts = Counts(**{name: getattr(r, name) for name in COUNTERS})
        counts.histogram = histogram.decode(r.histogram)
        sums[(r.bucket, r.api_id, r.version_id, r.status_class)].add(counts)
    return {key: (*c.counters().values(), c.histogram) for key, c in sums.items()}


def _assert_api_level_is_the_sum_below() -> None:
    for source, target in api_rollup.API_LEVEL.items():
        assert _api_level(target) == _summed(source), target.__name__


def _some_folds() -> None:
    assert _fold("b1", HOUR0 + 5, {A: _counts(10, 1000), B: _counts(4, 2000), U: _counts(2, 300)})
    assert _fold("b2", HOUR0 + 6, {A: _counts(5, 1500), C: _counts(3, 90_000)})
    assert _fold("b3", HOUR0 + 65, {D: _counts(7, 800), B: _counts(1, 700)})


def test_the_api_level_rows_are_the_sums_of_the_application_level_rows_after_folds() -> None:
    _some_folds()

    _assert_api_level_is_the_sum_below()
    hour = datetime.fromtimestamp(HOUR0 * 60, tz=UTC)
    row = ApiUsageHour.objects.get(bucket=hour, api_id=1, version_id=11, status_class="2xx")
    assert row.requests == 10 + 4 + 5  # two applications, two routes, two minutes
    assert ApiUsageDay.objects.get(version_id=11, status_class="2xx").requests == 10 + 4 + 5 + 1
    assert ApiUsageMinute.objects.count() == 6


def test_a_rerun_changes_nothing_and_a_late_batch_is_summed_in() -> None:
    _some_folds()
    before = {model: _api_level(model) for model in api_rollup.API_LEVEL.values()}

    assert not _fold("b1", HOUR0 + 5, {A: _counts(10, 1000)})
    assert {model: _api_level(model) for model in before} == before

    # Late data for a minute folded before, in a new batch: added once, everywhere.
    assert _fold("b1-late", HOUR0 + 5, {A: _counts(2, 1000), C: _counts(1, 60_000)})

    _assert_api_level_is_the_sum_below()
    minute = datetime.fromtimestamp((HOUR0 + 5) * 60, tz=UTC)
    row = ApiUsageMinute.objects.get(bucket=minute, version_id=11, status_class="2xx")
    assert row.requests == 10 + 4 + 2


def test_a_rebuild_gives_the_rows_the_fold_keeps_in_sql_and_in_python() -> None:
    _some_folds()
    _fold("b4", HOUR0 + 5, {A: _counts(3, 400)})
    kept = {model: _api_level(model) for model in api_rollup.API_LEVEL.values()}

    for source, target in api_rollup.API_LEVEL.items():
        target._default_manager.all().delete()
        api_rollup.rebuild(source, target)
    assert {model: _api_level(model) for model in kept} == kept

    for source, target in api_rollup.API_LEVEL.items():
        target._default_manager.all().delete()
        api_rollup._rebuild_in_python(source._default_manager.all(), target)
    assert {model: _api_level(model) for model in kept} == kept


def test_a_rebuild_replaces_only_its_range() -> None:
    _some_folds()
    first = datetime.fromtimestamp((HOUR0 + 5) * 60, tz=UTC)
    ApiUsageMinute.objects.update(requests=0)

    api_rollup.rebuild(UsageMinute, ApiUsageMinute, start=first, end=first + timedelta(minutes=1))

    assert set(ApiUsageMinute.objects.filter(requests__gt=0).values_list("bucket", flat=True)) == {
        first
    }


def test_retention_removes_the_api_level_rows_with_their_resolution() -> None:
    _some_folds()
    now = datetime.fromtimestamp(HOUR0 * 60, tz=UTC) + timedelta(days=400)

    report = retention.run(now=now, retention=Retention(7, 90, 365))

    assert (report.api_minutes, report.api_hours, report.api_days) == (6, 5, 4)
    assert not ApiUsageMinute.objects.exists()
    assert not ApiUsageHour.objects.exists()
    assert not ApiUsageDay.objects.exists()
    assert not UsageMinute.objects.exists()


def test_the_api_level_table_is_read_unless_an_application_or_route_is_asked_for() -> None:
    start = datetime.fromtimestamp(HOUR0 * 60, tz=UTC)
    six_hours, week = start + timedelta(hours=6), start + timedelta(days=7)

    assert selectors.rollup_for(start, six_hours, {}) is ApiUsageMinute
    assert selectors.rollup_for(start, week, {"version_id": 3}) is ApiUsageHour
    assert selectors.rollup_for(start, week, {"api_id__in": [1], "status_class": "5xx"}) is (
        ApiUsageHour
    )
    assert selectors.rollup_for(start, week, {"application_id": 7}) is UsageHour
    assert selectors.rollup_for(start, week, {"route_id__in": [1]}) is UsageHour
    assert selectors.rollup_for(start, start + timedelta(days=30), {}) is ApiUsageDay


@pytest.mark.parametrize(
    ("filters", "length"),
    [
        ({}, timedelta(hours=2)),
        ({"api_id": 1}, timedelta(hours=6)),
        ({"version_id": 11}, timedelta(days=2)),
        ({}, timedelta(days=30)),
    ],
)
def test_a_series_is_the_same_from_either_table(filters: dict[str, Any], length: timedelta) -> None:
    _some_folds()
    start = datetime.fromtimestamp(HOUR0 * 60, tz=UTC)
    Coverage.objects.create(bucket=start, node="envoy-1", seconds=60)
    # application_id >= 0 selects every row but forces the application-level table.
    every_application = {**filters, "application_id__gte": 0}

    from_api = selectors.series(filters, start, start + length, now=NOW)
    from_applications = selectors.series(every_application, start, start + length, now=NOW)

    assert from_api == from_applications
    assert sum(p.requests for p in from_api) > 0


def test_the_busiest_versions_are_the_same_from_either_table() -> None:
    _some_folds()
    now = datetime.fromtimestamp((HOUR0 + 70) * 60, tz=UTC)
    window = dashboard_queries.window("24h", now)

    from_api = dashboard_queries.per_version(window)
    from_applications = dashboard_queries.per_version(window, application_id__gte=0)

    assert from_api == from_applications
    assert [(v.version_id, v.requests) for v in from_api] == [(11, 23), (12, 7), (0, 2)]
    assert UsageDay.objects.exists()

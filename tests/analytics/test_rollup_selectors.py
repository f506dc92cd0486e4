"""The shared read helpers: a range read at the right resolution, one point per bucket
with its counts, latency quantiles and coverage mark."""

from datetime import UTC, datetime, timedelta

import pytest

from accesslog import histogram
from mgmt.analytics import api_rollup, selectors
from mgmt.analytics.models import ApiUsageMinute, Coverage, UsageDay, UsageHour, UsageMinute

pytestmark = [pytest.mark.db, pytest.mark.django_db]

T0 = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


def _minute(at: datetime, *, api: int = 1, app: int = 5, **counts: object) -> None:
    UsageMinute.objects.create(
        bucket=at,
        api_id=api,
        version_id=1,
        route_id=1,
        application_id=app,
        status_class="2xx",
        **counts,
    )
    api_rollup.rebuild(UsageMinute, ApiUsageMinute, start=at, end=at + timedelta(seconds=1))


def test_the_resolution_follows_the_length_of_the_range() -> None:
    assert selectors.resolution_for(T0, T0 + timedelta(hours=6)) is UsageMinute
    assert selectors.resolution_for(T0, T0 + timedelta(days=14)) is UsageHour
    assert selectors.resolution_for(T0, T0 + timedelta(days=30)) is UsageDay


def test_a_minute_series_sums_the_filtered_rows_per_bucket_with_quantiles() -> None:
    fast, slow = histogram.bucket_of(1000), histogram.bucket_of(90_000)
    _minute(T0, requests=99, errors=1, histogram=histogram.encode({fast: 99}))
    _minute(T0, app=6, requests=1, throttled=1, histogram=histogram.encode({slow: 1}))
    _minute(T0 + timedelta(minutes=2), requests=4, histogram=histogram.encode({fast: 4}))
    _minute(T0, api=2, requests=1000)  # another API

    points = selectors.series({"api_id": 1}, T0, T0 + timedelta(minutes=3), now=NOW)

    assert [(p.bucket, p.requests, p.errors, p.throttled) for p in points] == [
        (T0, 100, 1, 1),
        (T0 + timedelta(minutes=1), 0, 0, 0),
        (T0 + timedelta(minutes=2), 4, 0, 0),
    ]
    p50, p99 = points[0].p50_us, points[0].p99_us
    assert p50 is not None and abs(p50 - 1000) <= 1000 * histogram.RELATIVE_ERROR
    assert p99 is not None and abs(p99 - 1000) <= 1000 * histogram.RELATIVE_ERROR
    assert points[1].p50_us is None and points[1].p99_us is None


def test_a_series_filtered_by_application_reads_day_rows_for_a_month() -> None:
    for day in range(3):
        UsageDay.objects.create(
            bucket=T0.replace(hour=0) + timedelta(days=day),
            api_id=1,
            version_id=1,
            route_id=day,
            application_id=5,
            status_class="2xx",
            requests=10 + day,
        )

    points = selectors.series(
        {"application_id": 5}, T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=30), now=NOW
    )

    assert len(points) == 30
    assert [p.requests for p in points[:4]] == [10, 11, 12, 0]


def test_a_gap_in_coverage_is_marked_and_not_passed_off_as_no_traffic() -> None:
    for i in (0, 1, 3):
        Coverage.objects.create(bucket=T0 + timedelta(minutes=i), node="envoy-1", seconds=60)
    Coverage.objects.create(bucket=T0 + timedelta(minutes=4), node="envoy-1", seconds=20)
    _minute(T0, requests=5)

    points = selectors.series({}, T0 - timedelta(minutes=1), T0 + timedelta(minutes=5), now=NOW)

    assert [(p.requests, p.coverage) for p in points] == [
        (0, "none"),  # before the node was ever seen
        (5, "full"),
        (0, "full"),  # really no traffic
        (0, "gap"),  # no data: not zero traffic
        (0, "full"),
        (0, "partial"),
    ]


def test_an_hour_is_partial_when_some_of_its_minutes_are_gaps() -> None:
    for i in range(60):
        if i != 30:
            Coverage.objects.create(bucket=T0 + timedelta(minutes=i), node="n", seconds=60)
    for i in range(60):
        Coverage.objects.create(bucket=T0 + timedelta(hours=1, minutes=i), node="n", seconds=60)

    marks = selectors.coverage(T0, T0 + timedelta(hours=7), now=NOW)

    assert [m for _, m in marks] == ["partial", "full", "gap", "gap", "gap", "gap", "gap"]


def test_the_minutes_the_fold_has_not_reached_yet_are_none() -> None:
    now = T0 + timedelta(minutes=10)
    for i in range(10):
        Coverage.objects.create(bucket=T0 + timedelta(minutes=i), node="n", seconds=60)

    marks = [m for _, m in selectors.coverage(T0, now, now=now)]

    # Settle delay 90 s plus a fold period: minutes from 7 on may not be folded yet.
    assert marks == ["full"] * 7 + ["none"] * 3


def test_a_series_without_quantiles_keeps_its_counts_and_reads_no_histogram() -> None:
    _minute(T0, requests=3, histogram=histogram.encode({histogram.bucket_of(500): 3}))

    (point,) = selectors.series({}, T0, T0 + timedelta(minutes=1), now=NOW, quantiles=False)

    assert (point.requests, point.p50_us, point.p99_us) == (3, None, None)


def test_histograms_merge_per_dimension_and_only_per_usage_fields() -> None:
    _minute(T0, histogram="40:2,41:1")
    _minute(T0, app=6, histogram="40:1")
    _minute(T0, api=2, histogram="50:7")

    merged = selectors.merged_histograms(UsageMinute.objects.all(), "api_id")

    assert merged == {1: {40: 3, 41: 1}, 2: {50: 7}}
    with pytest.raises(ValueError, match="per bucket or per dimension"):
        selectors.merged_histograms(UsageMinute.objects.all(), "requests")

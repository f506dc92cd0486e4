"""The analytics retention job deletes what is past each resolution's retention, in
bounded batches, with coverage and fold batches going with the minutes."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mgmt.analytics import api_rollup, retention
from mgmt.analytics.models import (
    ApiUsageDay,
    ApiUsageHour,
    ApiUsageMinute,
    Coverage,
    FoldBatch,
    UsageDay,
    UsageHour,
    UsageMinute,
)
from mgmt.analytics.retention_rules import Retention

pytestmark = [pytest.mark.db, pytest.mark.django_db]

NOW = datetime(2030, 6, 15, 10, 42, tzinfo=UTC)
DEFAULTS = Retention(minute_days=7, hour_days=90, day_days=0)


def _usage(model: Any, at: datetime, route: int) -> None:
    model.objects.create(
        bucket=at, api_id=1, version_id=1, route_id=route, application_id=1, status_class="2xx"
    )


def _world() -> None:
    for age_days, route in ((1, 1), (6, 2), (8, 3), (9, 4), (10, 5)):
        at = NOW - timedelta(days=age_days)
        _usage(UsageMinute, at, route)
        Coverage.objects.create(bucket=at, node=f"n{route}", seconds=60)
        FoldBatch.objects.create(batch_id=f"m:{route}", minute=at, folded_at=at)
    for age_days, route in ((30, 1), (89, 2), (91, 3), (400, 4)):
        _usage(UsageHour, NOW - timedelta(days=age_days), route)
        _usage(UsageDay, NOW - timedelta(days=age_days), route)
    for source, target in api_rollup.API_LEVEL.items():
        api_rollup.rebuild(source, target)


def test_rows_past_their_resolutions_retention_go_in_batches_and_the_rest_stay() -> None:
    _world()

    report = retention.run(now=NOW, retention=DEFAULTS, batch=2)

    assert report.as_dict() == {
        "minutes": 3,
        "hours": 2,
        "days": 0,
        "api_minutes": 3,
        "api_hours": 2,
        "api_days": 0,
        "coverage": 3,
        "fold_batches": 3,
    }
    assert sorted(UsageMinute.objects.values_list("route_id", flat=True)) == [1, 2]
    assert sorted(Coverage.objects.values_list("node", flat=True)) == ["n1", "n2"]
    assert sorted(FoldBatch.objects.values_list("batch_id", flat=True)) == ["m:1", "m:2"]
    assert sorted(UsageHour.objects.values_list("route_id", flat=True)) == [1, 2]
    assert UsageDay.objects.count() == 4
    # The API-level rows go with their resolution's: one per bucket here.
    assert ApiUsageMinute.objects.count() == 2
    assert ApiUsageHour.objects.count() == 2
    assert ApiUsageDay.objects.count() == 4


def test_day_rows_go_too_when_a_retention_is_set_for_them() -> None:
    _world()

    report = retention.run(now=NOW, retention=Retention(7, 90, 365), batch=1000)

    assert report.days == 1
    assert report.api_days == 1
    assert ApiUsageDay.objects.count() == 3
    assert sorted(UsageDay.objects.values_list("route_id", flat=True)) == [1, 2, 3]


def test_a_second_run_deletes_nothing_more() -> None:
    _world()
    retention.run(now=NOW, retention=DEFAULTS)

    again = retention.run(now=NOW, retention=DEFAULTS)

    assert set(again.as_dict().values()) == {0}


def test_one_run_deletes_at_most_its_bound_and_the_next_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _world()
    monkeypatch.setattr(retention, "MAX_BATCHES", 1)

    first = retention.run(now=NOW, retention=DEFAULTS, batch=2)
    second = retention.run(now=NOW, retention=DEFAULTS, batch=2)

    assert (first.minutes, second.minutes) == (2, 1)

"""Hour and day rows are recomputed from the rows below them, never added to: a rollup
that was wrong is made right by the next batch that touches it."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from accesslog.usage_keys import Dims
from mgmt.analytics.models import UsageDay, UsageHour, UsageMinute
from tests.analytics.conftest import UsageWriter

pytestmark = [pytest.mark.db, pytest.mark.redis, pytest.mark.django_db]

A = Dims(2, 21, 211, 9, "2xx")
B = Dims(2, 21, 212, 9, "2xx")


def _yesterday_minute(hour: int, minute: int) -> int:
    day = int(time.time()) // 86400 - 1
    return day * 1440 + hour * 60 + minute


def test_an_hour_row_is_recomputed_from_its_minutes_not_added_to(usage: UsageWriter) -> None:
    usage.add(_yesterday_minute(3, 10), A, n=5, histogram={20: 5})
    usage.fold()
    UsageHour.objects.update(requests=999, histogram="1:999")
    UsageDay.objects.update(requests=999)

    usage.add(_yesterday_minute(3, 11), A, n=1, histogram={20: 1})
    usage.fold()

    hour = UsageHour.objects.get()
    assert (hour.requests, hour.histogram) == (6, "20:6")
    assert UsageDay.objects.get().requests == 6


def test_a_day_row_is_the_sum_of_its_hours(usage: UsageWriter) -> None:
    usage.add(_yesterday_minute(3, 10), A, n=5, bo=10, histogram={20: 5})
    usage.add(_yesterday_minute(15, 59), A, n=2, bo=7, histogram={30: 2})
    usage.add(_yesterday_minute(23, 59), B, n=4)

    usage.fold()

    day = datetime.fromtimestamp(_yesterday_minute(0, 0) * 60, tz=UTC)
    rows = {r.route_id: r for r in UsageDay.objects.all()}
    assert {r.bucket for r in rows.values()} == {day}
    assert (rows[A.route].requests, rows[A.route].bytes_out) == (7, 17)
    assert rows[A.route].histogram == "20:5,30:2"
    assert rows[B.route].requests == 4
    assert sorted(UsageHour.objects.values_list("bucket", "requests")) == [
        (day + timedelta(hours=3), 5),
        (day + timedelta(hours=15), 2),
        (day + timedelta(hours=23), 4),
    ]
    assert UsageMinute.objects.count() == 3


def test_a_batch_recomputes_only_the_rollups_of_the_dims_it_touched(usage: UsageWriter) -> None:
    usage.add(_yesterday_minute(4, 0), A, n=1)
    usage.add(_yesterday_minute(4, 0), B, n=1)
    usage.fold()
    UsageHour.objects.filter(route_id=B.route).update(requests=50)

    usage.add(_yesterday_minute(4, 1), A, n=1)
    usage.fold()

    assert dict(UsageHour.objects.values_list("route_id", "requests")) == {
        A.route: 2,
        B.route: 50,
    }

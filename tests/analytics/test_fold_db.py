"""The fold against the real Redis (DB 12) and the test database: exact counts, exactly
once across reruns, leftovers of killed workers, racing workers and late data."""

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from django.db import connection

from accesslog import usage_keys
from accesslog.usage_keys import Dims
from mgmt.analytics import fold, fold_rows, fold_store
from mgmt.analytics.claims import CLAIMED_KEY, USAGE, new_claim
from mgmt.analytics.fold_redis import UsageRedis
from mgmt.analytics.models import Coverage, FoldBatch, UsageDay, UsageHour, UsageMinute
from mgmt.analytics.tasks import FOLD_MAX_RETRIES
from mgmt.analytics.tasks import fold as fold_task
from mgmt.gateway.models import ApiKey
from tests.analytics.conftest import USAGE_REDIS_URL, UsageWriter
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.redis]

A = Dims(1, 11, 111, 7, "2xx")
B = Dims(1, 11, 112, 8, "5xx")
C = Dims(0, 0, 0, 0, "4xx")  # unattributed: no route matched, no application


def _hour_ago_minute(offset: int = 0, hours: int = 2) -> int:
    """A minute `offset` into the hour that started `hours` hours ago (closed, in TTL)."""
    return (int(time.time()) // 3600 - hours) * 60 + offset


def _at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


def _rows(model: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    return {
        (r.bucket, r.api_id, r.version_id, r.route_id, r.application_id, r.status_class): (
            r.requests,
            r.errors,
            r.throttled,
            r.bytes_in,
            r.bytes_out,
            r.duration_us_sum,
            r.upstream_us_sum,
        )
        for r in model.objects.all()
    }


def _everything() -> tuple[Any, ...]:
    return (
        _rows(UsageMinute),
        _rows(UsageHour),
        _rows(UsageDay),
        sorted(UsageMinute.objects.values_list("bucket", "route_id", "histogram")),
        sorted(Coverage.objects.values_list("bucket", "node", "seconds")),
    )


def _requests(model: Any, **filters: Any) -> int:
    return sum(model.objects.filter(**filters).values_list("requests", flat=True))


def _two_minutes(usage: UsageWriter) -> tuple[int, int]:
    first, second = _hour_ago_minute(5), _hour_ago_minute(6)
    usage.add(first, A, n=10, e=0, t=1, bi=100, bo=1000, ds=5000, us=4000, histogram={40: 10})
    usage.add(first, B, n=3, e=3, histogram={90: 3})
    usage.add(second, A, n=5, bi=50, bo=500, ds=2500, us=2000, histogram={40: 4, 41: 1})
    usage.add(second, C, n=2)
    return first, second


@pytest.mark.django_db
def test_a_fold_moves_exact_counts_into_the_minute_hour_and_day_rows(
    usage: UsageWriter,
) -> None:
    first, second = _two_minutes(usage)

    report = usage.fold()

    hour = _at(first).replace(minute=0)
    day = hour.replace(hour=0)
    assert _rows(UsageMinute) == {
        (_at(first), *A): (10, 0, 1, 100, 1000, 5000, 4000),
        (_at(first), *B): (3, 3, 0, 0, 0, 0, 0),
        (_at(second), *A): (5, 0, 0, 50, 500, 2500, 2000),
        (_at(second), *C): (2, 0, 0, 0, 0, 0, 0),
    }
    assert _rows(UsageHour) == {
        (hour, *A): (15, 0, 1, 150, 1500, 7500, 6000),
        (hour, *B): (3, 3, 0, 0, 0, 0, 0),
        (hour, *C): (2, 0, 0, 0, 0, 0, 0),
    }
    assert {k[1:]: v for k, v in _rows(UsageDay).items()} == {
        k[1:]: v for k, v in _rows(UsageHour).items()
    }
    assert all(k[0] == day for k in _rows(UsageDay))
    assert UsageHour.objects.get(route_id=A.route).histogram == "40:14,41:1"
    assert report.batches == 2 and report.rows == 4 and report.skipped_fields == 0
    assert usage.usage_keys() == []


@pytest.mark.django_db
def test_a_minute_within_the_settle_delay_is_left_for_a_later_run(usage: UsageWriter) -> None:
    now = time.time()
    current = int(now) // 60
    usage.add(current, A, n=1)

    usage.fold(now=now)

    assert UsageMinute.objects.count() == 0
    assert usage.client.exists(usage_keys.minute_key(current))
    usage.fold(now=(current + 1) * 60 + usage.settle_seconds)
    assert _requests(UsageMinute) == 1


@pytest.mark.django_db
def test_running_the_fold_again_changes_nothing(usage: UsageWriter) -> None:
    _two_minutes(usage)
    usage.cover(_hour_ago_minute(5), "envoy-1", 60)
    usage.fold()
    before = _everything()

    again = usage.fold()

    assert _everything() == before
    assert again.batches == 0


@pytest.mark.django_db
def test_late_data_for_a_folded_minute_adds_to_it_as_another_batch(usage: UsageWriter) -> None:
    minute = _hour_ago_minute(20)
    usage.add(minute, A, n=4, histogram={40: 4})
    usage.fold()

    usage.add(minute, A, n=6, e=1, histogram={40: 1, 50: 5})
    usage.add(minute, B, n=1)
    report = usage.fold()

    row = UsageMinute.objects.get(route_id=A.route)
    assert (row.requests, row.errors, row.histogram) == (10, 1, "40:5,50:5")
    assert _requests(UsageHour) == 11 and _requests(UsageDay) == 11
    assert FoldBatch.objects.filter(minute=_at(minute)).count() == 2
    assert report.batches == 1


@pytest.mark.django_db
def test_a_leftover_key_of_a_worker_killed_before_its_commit_is_applied_once(
    usage: UsageWriter,
) -> None:
    minute = _hour_ago_minute(30)
    usage.add(minute, A, n=7)
    claim = new_claim(USAGE, minute)
    assert usage.store().claim(claim)  # ... and the worker died before its transaction

    report = usage.fold()
    usage.fold()

    assert report.leftovers == 1 and report.batches == 1
    assert _requests(UsageMinute) == 7 and _requests(UsageHour) == 7
    assert usage.usage_keys() == []


@pytest.mark.django_db
def test_a_leftover_key_whose_batch_had_committed_is_deleted_and_not_applied_again(
    usage: UsageWriter,
) -> None:
    minute = _hour_ago_minute(31)
    usage.add(minute, A, n=7)
    claim = new_claim(USAGE, minute)
    store = usage.store()
    assert store.claim(claim)
    rows = fold_rows.parse_usage(store.read(claim)).rows
    assert fold_store.apply_usage(batch_id=claim.batch_id, minute=minute, rows=rows)
    # ... and the worker died between its commit and deleting the folding key.

    report = usage.fold()

    assert report.already_applied == 1 and report.batches == 0
    assert _requests(UsageMinute) == 7 and _requests(UsageDay) == 7
    assert usage.usage_keys() == []
    assert not usage.client.exists(CLAIMED_KEY)


@pytest.mark.django_db
def test_a_batch_applied_twice_is_refused_the_second_time() -> None:
    rows = {A: fold_rows.Counts(requests=2)}
    minute = _hour_ago_minute(1)

    assert fold_store.apply_usage(batch_id="m:1:x", minute=minute, rows=rows)
    assert not fold_store.apply_usage(batch_id="m:1:x", minute=minute, rows=rows)

    assert _requests(UsageMinute) == 2


@pytest.mark.django_db(transaction=True)
def test_two_folds_racing_count_every_minute_and_every_leftover_once(
    usage: UsageWriter,
) -> None:
    expected = 0
    for offset in range(30):
        minute = _hour_ago_minute(offset, hours=3)
        for route in range(1, 6):
            usage.add(minute, A._replace(route=route), n=offset + route, histogram={30: 1})
            expected += offset + route
    leftover = _hour_ago_minute(45, hours=3)
    usage.add(leftover, B, n=1000)
    assert usage.store().claim(new_claim(USAGE, leftover))
    expected += 1000
    start = threading.Barrier(2)
    reports: list[fold.FoldReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            reports.append(fold.run(UsageRedis(usage.client), now=time.time(), settle_seconds=90))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert _requests(UsageMinute) == expected
    assert _requests(UsageHour) == expected
    assert _requests(UsageDay) == expected
    assert sum(r.batches for r in reports) == 31
    assert FoldBatch.objects.count() == 31
    assert usage.usage_keys() == []


@pytest.mark.django_db
def test_malformed_fields_are_skipped_counted_and_the_rest_folded(usage: UsageWriter) -> None:
    minute = _hour_ago_minute(40)
    usage.add(minute, A, n=5)
    key = usage_keys.minute_key(minute)
    usage.client.hset(key, "1|11|111|7|2xx|bogus", 9)
    usage.client.hset(key, "1|11|111|7|9xx|n", 9)
    usage.client.hset(key, "one|11|111|7|2xx|n", 9)
    usage.client.hset(key, usage_keys.field(B, "n"), "many")

    report = usage.fold()

    assert report.skipped_fields == 4
    assert _rows(UsageMinute) == {(_at(minute), *A): (5, 0, 0, 0, 0, 0, 0)}
    assert usage.usage_keys() == []


@pytest.mark.django_db
def test_coverage_is_folded_per_node_and_late_seconds_add_up_to_the_minute(
    usage: UsageWriter,
) -> None:
    minute = _hour_ago_minute(50)
    usage.cover(minute, "envoy-1", 40)
    usage.cover(minute, "envoy-2", 60)
    usage.fold()
    usage.cover(minute, "envoy-1", 30)

    usage.fold()

    assert sorted(Coverage.objects.values_list("node", "seconds")) == [
        ("envoy-1", 60),
        ("envoy-2", 60),
    ]


@pytest.mark.django_db
def test_last_used_is_written_only_when_newer(usage: UsageWriter) -> None:
    application = factories.application()
    moment = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    never = ApiKey.objects.create(application=application, key_id="aaaaaaaaaaaa", key_hash=b"1")
    older = ApiKey.objects.create(
        application=application,
        key_id="bbbbbbbbbbbb",
        key_hash=b"2",
        last_used_at=moment - timedelta(minutes=5),
    )
    newer = ApiKey.objects.create(
        application=application,
        key_id="cccccccccccc",
        key_hash=b"3",
        last_used_at=moment + timedelta(minutes=5),
    )
    seconds = int(moment.timestamp())
    for key in (never, older, newer):
        usage.last_used(key.key_id, seconds)
    usage.last_used("dddddddddddd", seconds)  # no such key: nothing to write

    report = usage.fold(now=seconds + 3600)
    usage.fold(now=seconds + 3600)

    for key in (never, older, newer):
        key.refresh_from_db()
    assert never.last_used_at == moment
    assert older.last_used_at == moment
    assert newer.last_used_at == moment + timedelta(minutes=5)
    assert report.keys_updated == 2
    assert not usage.client.exists(usage_keys.LAST_USED_KEY)


@pytest.mark.django_db
def test_with_redis_unreachable_the_task_retries_gives_up_and_loses_nothing(
    usage: UsageWriter, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    minute = _hour_ago_minute(55)
    usage.add(minute, A, n=3)
    settings.TOLLGATE_ANALYTICS_REDIS_URL = "redis://127.0.0.1:1/0"

    failed = fold_task.apply()

    assert isinstance(failed.result, redis.ConnectionError)
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == FOLD_MAX_RETRIES + 1
    assert usage.client.exists(usage_keys.minute_key(minute))
    settings.TOLLGATE_ANALYTICS_REDIS_URL = USAGE_REDIS_URL
    report = fold_task.apply().result
    assert isinstance(report, dict) and report["batches"] == 1
    assert _requests(UsageMinute) == 3

"""The fold's database side: applies one claimed hash in one transaction, exactly once.

The batch's FoldBatch row and everything it adds commit together, so a batch is either
wholly in the database (and its FoldBatch says so) or not at all. The touched hour and
day rows are recomputed (replaced) from the finer rows, never added to, so they always
equal the sum of what lies below them; so are the touched API-level rows of the minute,
hour and day, from the application-level rows just written (mgmt.analytics.api_rollup).

Fold transactions are serialized by one lock (a PostgreSQL advisory lock; SQLite's
IMMEDIATE transactions already hold the write lock from their start): usage rows are read,
added to and written back, and the rollups are computed from rows another fold may be
writing, so two must never interleave. A fold transaction takes milliseconds to seconds
once a minute; nothing else takes this lock.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from accesslog import histogram
from accesslog.usage_keys import Dims
from mgmt.analytics import api_rollup
from mgmt.analytics.fold_rows import COUNTERS, Counts, Rows, add_rows, covered_seconds, rollup
from mgmt.analytics.models import (
    DIMENSIONS,
    Coverage,
    FoldBatch,
    UsageDay,
    UsageHour,
    UsageMinute,
    UsageRow,
)
from mgmt.analytics.timeline import minute_start
from mgmt.gateway.models import ApiKey

# pg_advisory_xact_lock's key for "a fold transaction is running" ("tgfo").
FOLD_LOCK_ID: Final = 0x7467666F
# Tests only: when set, a fold transaction that has written its rows creates this file and
# waits there PAUSE_SECONDS before committing, so a test can SIGKILL the worker while the
# transaction is open (tests/analytics/test_fold_worker.py).
PAUSE_FILE_ENV: Final = "TOLLGATE_ANALYTICS_TEST_PAUSE_FILE"
PAUSE_SECONDS: Final = 60
_WRITE_BATCH: Final = 500
_LAST_USED_CHUNK: Final = 500


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def is_applied(batch_id: str) -> bool:
    return FoldBatch.objects.filter(batch_id=batch_id).exists()


def apply_usage(*, batch_id: str, minute: int, rows: Mapping[Dims, Counts]) -> bool:
    """Adds a claimed minute hash's rows to its minute, then recomputes the rows of its hour
    (from the minutes) and of its day (from the hours) for the dims it touched, and the
    API-level rows of each for the (api, version, status class) it touched.

    False, with nothing changed, when this batch was applied before.
    """
    bucket = minute_start(minute)
    hour = hour_start(bucket)
    day = day_start(bucket)

    def apply() -> None:
        if not rows:
            return
        stored = _read(UsageMinute, bucket, bucket + timedelta(minutes=1), rows.keys())
        add_rows(stored, rows)
        _write(UsageMinute, bucket, stored)
        minutes = _read(UsageMinute, hour, hour + timedelta(hours=1), rows.keys())
        _write(UsageHour, hour, minutes)
        hours = _read(UsageHour, day, day + timedelta(days=1), rows.keys())
        _write(UsageDay, day, hours)
        keys = {api_rollup.api_dims(dims) for dims in rows}
        for model, at in ((UsageMinute, bucket), (UsageHour, hour), (UsageDay, day)):
            api_rollup.recompute(model, at, keys)

    return _once(batch_id, bucket, apply)


def apply_cover(*, batch_id: str, minute: int, seconds: Mapping[str, int]) -> bool:
    """Adds a claimed cover hash's seconds per node to its minute (capped at 60).

    False, with nothing changed, when this batch was applied before.
    """
    bucket = minute_start(minute)

    def apply() -> None:
        stored = dict(
            Coverage.objects.filter(bucket=bucket, node__in=list(seconds)).values_list(
                "node", "seconds"
            )
        )
        Coverage.objects.bulk_create(
            [
                Coverage(bucket=bucket, node=node, seconds=covered_seconds(stored.get(node, 0), s))
                for node, s in sorted(seconds.items())
            ],
            update_conflicts=True,
            unique_fields=["bucket", "node"],
            update_fields=["seconds"],
            batch_size=_WRITE_BATCH,
        )

    return _once(batch_id, bucket, apply)


def apply_last_used(used: Mapping[str, int]) -> int:
    """Moves each key's `last_used_at` forward to its time in `used` (unix seconds), never
    back: running it twice, or with older times, changes nothing. Returns keys updated.

    Keys are updated by QuerySet.update, which sends no post_save signal: a key's use is
    not a configuration change and publishes no snapshot.
    """
    by_time: dict[int, list[str]] = defaultdict(list)
    for key_id, seconds in used.items():
        by_time[seconds].append(key_id)
    updated = 0
    for seconds, key_ids in sorted(by_time.items()):
        moment = datetime.fromtimestamp(seconds, tz=UTC)
        ordered = sorted(key_ids)
        for start in range(0, len(ordered), _LAST_USED_CHUNK):
            updated += (
                ApiKey.objects.filter(key_id__in=ordered[start : start + _LAST_USED_CHUNK])
                .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=moment))
                .update(last_used_at=moment)
            )
    return updated


def _once(batch_id: str, bucket: datetime, apply: Callable[[], None]) -> bool:
    try:
        with transaction.atomic():
            _lock()
            # Under the lock every earlier fold has committed: this sees its FoldBatch.
            if is_applied(batch_id):
                return False
            # The unique batch id is the backstop: a second insert fails and rolls back all.
            FoldBatch.objects.create(batch_id=batch_id, minute=bucket)
            apply()
            _pause_for_tests()
    except IntegrityError:
        if is_applied(batch_id):
            return False
        raise
    return True


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLD_LOCK_ID])


def _read(model: type[UsageRow], start: datetime, end: datetime, dims: Iterable[Dims]) -> Rows:
    """The rows of `model` in [start, end) for `dims`, summed per dims.

    The query selects by each id separately (a superset: an application's other routes)
    and Python keeps the exact dims: a day is read for every minute's batch, so it must not
    read the whole day's rows of every API the batch touched.
    """
    wanted = set(dims)
    values = (
        model._default_manager.filter(
            bucket__gte=start,
            bucket__lt=end,
            api_id__in=sorted({d.api for d in wanted}),
            route_id__in=sorted({d.route for d in wanted}),
            application_id__in=sorted({d.application for d in wanted}),
        )
        .values_list(*DIMENSIONS, *COUNTERS, "histogram")
        .iterator(chunk_size=2000)
    )
    return rollup((dims, counts) for dims, counts in (_row(v) for v in values) if dims in wanted)


def _row(values: tuple[object, ...]) -> tuple[Dims, Counts]:
    api, version, route, application, klass = values[:5]
    counters = values[5 : 5 + len(COUNTERS)]
    text = values[-1]
    assert isinstance(text, str)
    counts = Counts(**dict(zip(COUNTERS, counters, strict=True)))  # type: ignore[arg-type]
    counts.histogram = api_rollup.stored_histogram(text)
    return Dims(api, version, route, application, klass), counts  # type: ignore[arg-type]


def _write(model: type[UsageRow], bucket: datetime, rows: Rows) -> None:
    """Stores `rows` as the rows of `bucket`, replacing what each dims held."""
    model._default_manager.bulk_create(
        [
            model(
                bucket=bucket,
                api_id=dims.api,
                version_id=dims.version,
                route_id=dims.route,
                application_id=dims.application,
                status_class=dims.status_class,
                histogram=histogram.encode(counts.histogram),
                **counts.counters(),
            )
            for dims, counts in sorted(rows.items())
        ],
        update_conflicts=True,
        unique_fields=["bucket", *DIMENSIONS],
        update_fields=[*COUNTERS, "histogram"],
        batch_size=_WRITE_BATCH,
    )


def _pause_for_tests() -> None:
    pause_file = os.environ.get(PAUSE_FILE_ENV)
    if pause_file:
        Path(pause_file).touch()
        time.sleep(PAUSE_SECONDS)

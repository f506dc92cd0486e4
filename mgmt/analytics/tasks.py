"""Celery tasks of the analytics: the fold (every minute) and the retention (hourly).
Thin shells: they take no arguments, read their knobs from settings, and are harmless
when run twice or at once."""

from __future__ import annotations

import logging
import time

import redis
from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from mgmt.analytics import fold as fold_job
from mgmt.analytics import retention as retention_job
from mgmt.analytics.fold_redis import UsageRedis, connect
from mgmt.analytics.retention_rules import Retention

log = logging.getLogger(__name__)

FOLD_MAX_RETRIES = 3


@shared_task(
    bind=True,
    name="tollgate.analytics.fold",
    acks_late=True,
    time_limit=300,
    soft_time_limit=240,
    max_retries=FOLD_MAX_RETRIES,
    ignore_result=True,
)
def fold(self: Task) -> dict[str, int]:  # type: ignore[type-arg]
    """Folds the closed usage minutes. While Redis is unreachable it retries a few times
    and gives up; the hashes stay in Redis, so the next run folds them."""
    try:
        report = fold_job.run(
            UsageRedis(connect(settings.TOLLGATE_ANALYTICS_REDIS_URL)),
            now=time.time(),
            settle_seconds=settings.TOLLGATE_ANALYTICS_SETTLE_SECONDS,
        )
    except redis.RedisError as error:
        log.warning(
            "analytics fold: Redis unavailable (%s: %s), attempt %d of %d",
            type(error).__name__,
            error,
            self.request.retries + 1,
            FOLD_MAX_RETRIES + 1,
        )
        raise self.retry(exc=error, countdown=10 * (self.request.retries + 1)) from error
    return report.as_dict()


@shared_task(
    name="tollgate.analytics.retention",
    acks_late=True,
    time_limit=1800,
    soft_time_limit=1700,
    ignore_result=True,
)
def retention() -> dict[str, int]:
    """Deletes usage rows past TOLLGATE_ANALYTICS_KEEP_*_DAYS."""
    report = retention_job.run(
        now=timezone.now(),
        retention=Retention(
            minute_days=settings.TOLLGATE_ANALYTICS_KEEP_MINUTE_DAYS,
            hour_days=settings.TOLLGATE_ANALYTICS_KEEP_HOUR_DAYS,
            day_days=settings.TOLLGATE_ANALYTICS_KEEP_DAY_DAYS,
        ),
    )
    return report.as_dict()

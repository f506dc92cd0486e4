"""Celery tasks: thin shells around the deprecation job, notice delivery and the retention
of control-plane history. They take ids or a timestamp, never objects, and do nothing
harmful when run twice."""

from datetime import datetime
from zoneinfo import ZoneInfo

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from mgmt.gateway import deprecation_job, notices, retention_job
from mgmt.lifecycle.retries import retry_delay


def _as_of(value: str | None) -> datetime:
    if value is None:
        return timezone.now()
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"as_of needs a time zone: {value!r}")
    return moment


@shared_task(
    name="tollgate.lifecycle.deprecation_job",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
    ignore_result=True,
)
def run_deprecation_job(as_of: str | None = None) -> dict[str, object]:
    """Retire, plan reminders, queue their sending. `as_of` (ISO 8601) runs it as of then."""
    report = deprecation_job.run(now=_as_of(as_of))
    for notice_id in report.sendable:
        send_lifecycle_notice.delay(notice_id)
    return report.as_dict()


@shared_task(
    bind=True,
    name="tollgate.lifecycle.send_notice",
    acks_late=True,
    time_limit=120,
    soft_time_limit=90,
    max_retries=None,  # bounded by TOLLGATE_NOTICE_MAX_ATTEMPTS, counted in the database
    ignore_result=True,
)
def send_lifecycle_notice(self: Task, notice_id: int) -> str:  # type: ignore[type-arg]
    notice = notices.claim(notice_id, now=timezone.now())
    if notice is None:
        return "not pending"
    delivery = notices.deliver(
        notice,
        now=timezone.now(),
        zone=ZoneInfo(settings.TOLLGATE_LIFECYCLE_TIME_ZONE),
        max_attempts=settings.TOLLGATE_NOTICE_MAX_ATTEMPTS,
    )
    if delivery.retry:
        raise self.retry(countdown=retry_delay(notice.attempts))
    return "sent" if delivery.sent else "failed"


@shared_task(
    name="tollgate.gateway.retention",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
    ignore_result=True,
)
def run_retention() -> dict[str, int]:
    """Deletes old snapshots, node statuses and NACKs (TOLLGATE_KEEP_*)."""
    report = retention_job.run(
        now=timezone.now(),
        keep_published=settings.TOLLGATE_KEEP_PUBLISHED_SNAPSHOTS,
        keep_refused=settings.TOLLGATE_KEEP_REFUSED_SNAPSHOTS,
        history_days=settings.TOLLGATE_KEEP_XDS_HISTORY_DAYS,
    )
    return report.as_dict()

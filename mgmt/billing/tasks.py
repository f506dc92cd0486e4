"""Billing's Celery tasks: thin shells around the meter fold, the close job and webhook
delivery. `now` may be given (ISO 8601) to run a job as of another time."""

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from mgmt.billing import webhook_delivery
from mgmt.billing.close import close_due
from mgmt.billing.meter_fold import fold_meters


def _now(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else timezone.now()


@shared_task(name="tollgate.billing.meter")
def meter(now: str | None = None) -> dict[str, int]:
    """Every minute: open new periods, read every open one's counter, close the ended."""
    at = _now(now)
    folded = fold_meters(at)
    closed = 0
    if not folded.unreadable:
        settle = timedelta(seconds=settings.TOLLGATE_BILLING_SETTLE_SECONDS)
        closed = close_due(at, settle)
    return {"opened": folded.opened, "read": folded.read, "closed": closed}


@shared_task(name="tollgate.billing.deliver_event")
def deliver_event(event_id: str) -> int:
    return webhook_delivery.deliver_event(event_id)


# A sweep attempts at most 100 deliveries of at most TOLLGATE_WEBHOOKS_TIMEOUT_S each.
@shared_task(name="tollgate.billing.deliver_webhooks", time_limit=1800, soft_time_limit=1700)
def deliver_webhooks(now: str | None = None) -> int:
    """Every minute: deliveries due (retries, and any whose hand-off was lost)."""
    return webhook_delivery.deliver_due(_now(now))

"""Delivering billing webhooks: claim a due delivery, send one signed attempt, log it, and
either mark it delivered or schedule the next try (or give up).

A delivery is claimed by a conditional UPDATE that pushes its `next_attempt_at` a lease
ahead; only the worker whose UPDATE matched sends. No transaction is held while sending: a
worker killed mid-attempt leaves a claim that simply expires, and the next sweep retries.
Every attempt of one event carries the event's id as `webhook-id`, the receiver's
idempotency key, so a retry after an answer we never saw is recognised as a repeat.

An inactive endpoint's pending deliveries are held, not attempted and not counted: the
sweep skips them (so they never crowd out due work) and sends them once it is reactivated.
"""

import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from mgmt.billing import webhook_schedule, webhook_sender, webhook_signing
from mgmt.billing.models import DeliveryAttempt, WebhookDelivery
from mgmt.billing.webhook_endpoints import allow_private_addresses
from mgmt.billing.webhook_sender import DeliveryResult
from mgmt.billing.webhook_urls import WebhookUrlError, validate_webhook_url

log = logging.getLogger(__name__)

PENDING: Final = WebhookDelivery.State.PENDING
# A claim outlives one attempt (DNS, connect, TLS, answer: about the timeout) with room to
# spare; a killed worker's claim lapses after it and another worker retries.
LEASE: Final = timedelta(seconds=60)
DEFAULT_TIMEOUT_S: Final = 10.0
# Kept well under the lease, so that a live attempt's claim never lapses under it.
MAX_TIMEOUT_S: Final = 30.0

# Jitter only spreads retries apart; it needs no secrecy, but the system source is as cheap.
_jitter = random.SystemRandom()


def _field_length(model: Any, name: str) -> int:
    length = model._meta.get_field(name).max_length
    assert isinstance(length, int)
    return length


_ERROR_CHARS: Final = _field_length(DeliveryAttempt, "error")
_EXCERPT_CHARS: Final = _field_length(DeliveryAttempt, "response_excerpt")
_LAST_ERROR_CHARS: Final = _field_length(WebhookDelivery, "last_error")


def _timeout_s() -> float:
    configured = float(getattr(settings, "TOLLGATE_WEBHOOKS_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    return min(max(configured, 0.1), MAX_TIMEOUT_S)


def body_of(payload: Any) -> bytes:
    """The bytes sent and signed: compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode(
        "utf-8"
    )


def _clock(now: datetime | None) -> Callable[[], datetime]:
    # A given `now` is the time of every step (tests); otherwise each claim reads the clock,
    # so that a long sweep's later claims get leases counted from when they are taken.
    return (lambda: now) if now is not None else timezone.now


def _claim(delivery_id: int, at: datetime) -> datetime | None:
    """The claim's lease end if this worker won delivery `delivery_id`, else None."""
    lease_until = at + LEASE
    won = WebhookDelivery.objects.filter(
        pk=delivery_id, state=PENDING, next_attempt_at__lte=at
    ).update(next_attempt_at=lease_until)
    return lease_until if won == 1 else None


def _send(delivery: WebhookDelivery, at: datetime) -> DeliveryResult:
    """One attempt; every failure, ours or the receiver's, comes back as a result."""
    endpoint = delivery.endpoint
    try:
        # Again at send time: the host's DNS may point somewhere else since it was saved.
        target = validate_webhook_url(endpoint.url, allow_private=allow_private_addresses())
    except WebhookUrlError as refused:
        return DeliveryResult(status=None, error=str(refused), response_excerpt="", duration_ms=0)
    body = body_of(delivery.event.payload)
    try:
        signed = webhook_signing.headers(
            endpoint.secret, delivery.event_id, int(at.timestamp()), body
        )
    except ValueError as unsignable:
        # A malformed stored secret or event id; the message names neither's content.
        return DeliveryResult(
            status=None, error=f"not signed: {unsignable}", response_excerpt="", duration_ms=0
        )
    return webhook_sender.deliver(target, signed, body, timeout_s=_timeout_s())


def _record(
    delivery: WebhookDelivery, result: DeliveryResult, at: datetime, lease_until: datetime
) -> None:
    """Log the attempt and move the delivery on. A success is final whoever holds the claim
    now; a failure is scheduled only while our claim still stands (an admin's "retry now"
    or a worker that took over a lapsed claim owns the schedule from then on)."""
    attempt_number = delivery.attempts + 1
    error = result.error[:_ERROR_CHARS]
    finished = at + timedelta(milliseconds=result.duration_ms)
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, state=PENDING)
    with transaction.atomic():  # the log line and its outcome together, or neither
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=at,
            status=result.status,
            error=error,
            response_excerpt=result.response_excerpt[:_EXCERPT_CHARS],
            duration_ms=max(result.duration_ms, 0),
        )
        if webhook_schedule.is_success(result.status):
            pending.update(
                state=WebhookDelivery.State.DELIVERED,
                attempts=F("attempts") + 1,
                last_status=result.status,
                last_error="",
                delivered_at=finished,
                next_attempt_at=None,
            )
            outcome = "delivered"
        else:
            retry_at = webhook_schedule.next_attempt_at(attempt_number, finished, _jitter)
            pending.filter(next_attempt_at=lease_until).update(
                state=PENDING if retry_at is not None else WebhookDelivery.State.FAILED,
                attempts=F("attempts") + 1,
                last_status=result.status,
                last_error=(error or f"HTTP {result.status}")[:_LAST_ERROR_CHARS],
                next_attempt_at=retry_at,
            )
            outcome = "retry scheduled" if retry_at is not None else "failed, given up"
    # Ids and outcome only: the URL may carry the receiver's own token, headers our signature.
    log.info(
        "webhook %s to endpoint %s, attempt %d: status %s, %s%s",
        delivery.event_id,
        delivery.endpoint_id,
        attempt_number,
        result.status,
        outcome,
        f" ({error})" if error else "",
    )


def _attempt(delivery_id: int, clock: Callable[[], datetime]) -> bool:
    """Claim, send and record delivery `delivery_id`; False when it was not ours to send."""
    at = clock()
    lease_until = _claim(delivery_id, at)
    if lease_until is None:
        return False
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None:  # its event or endpoint was deleted after the claim
        return False
    if not delivery.endpoint.active:
        # Deactivated between the look-up and the claim: hand the claim back, untouched.
        WebhookDelivery.objects.filter(pk=delivery_id, next_attempt_at=lease_until).update(
            next_attempt_at=at
        )
        return False
    _record(delivery, _send(delivery, at), at, lease_until)
    return True


def _due(at: datetime) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(
        state=PENDING, next_attempt_at__lte=at, endpoint__active=True
    )


def deliver_event(event_id: str, now: datetime | None = None) -> int:
    """Attempt every pending delivery of event `event_id` that is due; how many were
    attempted (a delivery another worker claimed first is not counted)."""
    clock = _clock(now)
    ids = list(_due(clock()).filter(event_id=event_id).values_list("pk", flat=True))
    return sum(_attempt(pk, clock) for pk in ids)


def deliver_due(now: datetime | None = None, limit: int = 100) -> int:
    """The sweep: attempt up to `limit` pending deliveries whose time has come, the longest
    waiting first; how many were attempted. Attempts run one after another, so a sweep takes
    at most about `limit` times the attempt timeout."""
    clock = _clock(now)
    ids = list(_due(clock()).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    return sum(_attempt(pk, clock) for pk in ids)

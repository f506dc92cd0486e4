"""Billing events for webhooks: one row per (type, subject), made in the caller's
transaction, with one pending delivery per endpoint of the issuer that wants it. The
deliveries are attempted after the commit (and by the delivery sweep if that hand-off is
lost), so a rolled-back change sends nothing and a committed one is never lost."""

import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from mgmt.billing.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from mgmt.gateway.models import Organization

log = logging.getLogger(__name__)


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def emit(
    organization: Organization, type_: str, subject: str, data: dict[str, Any]
) -> WebhookEvent:
    """The event of `type_` about `subject`, made once: a second call returns the first."""
    existing = WebhookEvent.objects.filter(type=type_, subject=subject).first()
    if existing is not None:
        return existing
    event_id = new_event_id()
    now = timezone.now()
    payload = {"type": type_, "timestamp": now.isoformat(), "data": {"id": event_id, **data}}
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                id=event_id,
                organization=organization,
                type=type_,
                subject=subject,
                payload=payload,
                created_at=now,
            )
    except IntegrityError:
        return WebhookEvent.objects.get(type=type_, subject=subject)
    endpoints = WebhookEndpoint.objects.filter(organization=organization, active=True)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint=e, next_attempt_at=now)
            for e in endpoints
            if e.wants(type_)
        ]
    )
    transaction.on_commit(lambda: _hand_off(event.id))
    return event


def _hand_off(event_id: str) -> None:
    """Deliver now on a worker; if the broker cannot take it, the sweep delivers it."""
    from mgmt.billing.tasks import deliver_event

    try:
        deliver_event.apply_async((event_id,), retry=False)
    except Exception as error:  # any broker failure: the committed event waits for the sweep
        log.warning("event %s left to the delivery sweep: %s", event_id, type(error).__name__)

"""Webhook endpoints of an issuing organization: created with a checked URL and known event
types, and a signing secret that is returned once, to be shown once, and never again.

The URL check resolves the host and refuses private, loopback and metadata addresses
(server-side request forgery) unless TOLLGATE_WEBHOOKS_ALLOW_PRIVATE is on; the delivery
checks it again at each attempt, since DNS can change after the endpoint is saved.
"""

from collections.abc import Iterable
from typing import Final

from django.conf import settings

from mgmt.billing.models import WebhookEndpoint
from mgmt.billing.webhook_signing import new_secret
from mgmt.billing.webhook_urls import WebhookUrlError, validate_webhook_url
from mgmt.gateway.models import Organization

# The billing events there are (mgmt.billing.events.emit is called with these types).
EVENT_TYPES: Final = ("invoice.finalized", "invoice.voided", "credit_note.created")
_URL_CHARS: Final = WebhookEndpoint._meta.get_field("url").max_length or 0


class WebhookEndpointError(ValueError):
    """An endpoint we will not save; the message says why, for its owner."""


def allow_private_addresses() -> bool:
    """Whether webhooks may go to loopback and private networks (tests, development)."""
    return bool(getattr(settings, "TOLLGATE_WEBHOOKS_ALLOW_PRIVATE", False))


def checked_url(url: str) -> str:
    """`url` without surrounding spaces, if webhooks may be sent to it now."""
    url = url.strip()
    if len(url) > _URL_CHARS:
        raise WebhookEndpointError(f"a webhook URL is at most {_URL_CHARS} characters")
    try:
        validate_webhook_url(url, allow_private=allow_private_addresses())
    except WebhookUrlError as refused:
        raise WebhookEndpointError(str(refused)) from None
    return url


def checked_event_types(event_types: Iterable[str]) -> list[str]:
    """The event types, known ones only, each once, in the catalogue's order. Empty means
    every billing event (WebhookEndpoint.wants)."""
    wanted = set(event_types)
    unknown = sorted(wanted.difference(EVENT_TYPES))
    if unknown:
        raise WebhookEndpointError(
            f"unknown event type {unknown[0]!r}; the types are {', '.join(EVENT_TYPES)}"
        )
    return [each for each in EVENT_TYPES if each in wanted]


def create_endpoint(
    organization: Organization,
    url: str,
    event_types: Iterable[str],
    *,
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of `organization` and its signing secret, to show its owner once."""
    url = checked_url(url)
    types = checked_event_types(event_types)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=url, event_types=types, active=active, secret=secret
    )
    return endpoint, secret


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new signing secret for `endpoint`, to show once. The old one stops at once: every
    attempt from now on, retries of earlier events too, is signed with the new one."""
    secret = new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    endpoint.secret = secret
    return secret

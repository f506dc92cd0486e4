"""Mail about requests for higher limits: the API owner hears when a partner asks, and the
partner hears when the owner decides. Each mail leaves after the commit of the change it
reports, and that change happens once (a new row; a conditional UPDATE out of pending), so
each goes out once. No secret is in them: the links lead to pages that need a login.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from mgmt.gateway.models import LimitRequest

log = logging.getLogger(__name__)


def _link(path: str) -> str:
    return settings.TOLLGATE_PUBLIC_URL.rstrip("/") + path


def _load(request_id: int) -> LimitRequest:
    return LimitRequest.objects.select_related(
        "subscription__application__organization",
        "subscription__product__organization",
        "subscription__plan",
        "requested_by",
    ).get(pk=request_id)


def _send(to: str, template: str, context: dict[str, object]) -> None:
    subject = render_to_string(f"developers/email/{template}_subject.txt", context)
    body = render_to_string(f"developers/email/{template}_body.txt", context)
    try:
        EmailMessage(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to]).send()
    except (OSError, ValueError):  # smtplib's errors are OSErrors
        # The request and its answer stand; both are in the admin and the portal.
        log.warning("could not send the %s mail", template, exc_info=True)


def owner_address(limit_request: LimitRequest) -> str:
    """The contact of the organization offering the product ("" when it gave none)."""
    return limit_request.subscription.product.organization.contact_email


def partner_address(limit_request: LimitRequest) -> str:
    """Whoever asked; the application's notice address when that account is gone."""
    asked_by = limit_request.requested_by
    if asked_by is not None and asked_by.email:
        return asked_by.email
    return limit_request.subscription.application.notice_recipient()


def _tell_owner(request_id: int) -> None:
    limit_request = _load(request_id)
    to = owner_address(limit_request)
    if not to:
        log.warning(
            "limit request %s: %s has no contact address; it waits in the admin unannounced",
            request_id,
            limit_request.subscription.product.organization,
        )
        return
    _send(
        to,
        "limit_request_asked",
        {
            "limit_request": limit_request,
            "subscription": limit_request.subscription,
            "link": _link(reverse("admin:gateway_limitrequest_change", args=[request_id])),
        },
    )


def _tell_partner(request_id: int) -> None:
    limit_request = _load(request_id)
    to = partner_address(limit_request)
    if not to:
        log.warning("limit request %s: nobody to tell of the decision", request_id)
        return
    subscription = limit_request.subscription
    application = subscription.application
    page = reverse(
        "portal:subscription",
        kwargs={
            "org": application.organization.slug,
            "public_id": application.public_id,
            "subscription_id": subscription.pk,
        },
    )
    _send(
        to,
        "limit_request_decided",
        {
            "limit_request": limit_request,
            "subscription": subscription,
            "approved": limit_request.state == LimitRequest.State.APPROVED,
            "link": _link(page),
        },
    )


def tell_owner_when_committed(limit_request: LimitRequest) -> None:
    """Call in the transaction that created the request."""
    request_id = limit_request.pk
    transaction.on_commit(lambda: _tell_owner(request_id))


def tell_partner_when_committed(limit_request: LimitRequest) -> None:
    """Call in the transaction whose conditional UPDATE decided the request."""
    request_id = limit_request.pk
    transaction.on_commit(lambda: _tell_partner(request_id))

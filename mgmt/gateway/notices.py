"""Lifecycle notices to the owners of subscribed applications: planned once per (version,
application, kind, lead time, sunset), claimed with a conditional UPDATE before sending,
so a rerun, a second worker or a retry never sends one twice, and a crash never loses one.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string

from mgmt.gateway import usage
from mgmt.gateway.models import ApiVersion, Application, LifecycleNotice, Subscription
from mgmt.lifecycle.notice_dates import due_reminders

log = logging.getLogger(__name__)

# Subscriptions whose applications hear about their API's lifecycle.
_INFORMED_STATES = (Subscription.State.ACTIVE, Subscription.State.SUSPENDED)


def subscribed_applications(version: ApiVersion) -> list[Application]:
    """Applications subscribed to the version's product and, once usage is recorded, still
    calling this version."""
    applications = (
        Application.objects.filter(
            subscriptions__product_id=version.api.product_id,
            subscriptions__state__in=_INFORMED_STATES,
        )
        .select_related("organization")
        .distinct()
        .order_by("id")
    )
    callers = usage.applications_calling(version)
    return [a for a in applications if callers is None or a.pk in callers]


def _notice(
    version: ApiVersion,
    application: Application,
    *,
    kind: str,
    lead_days: int,
    sunset_at: datetime,
    state: str = LifecycleNotice.State.PENDING,
) -> LifecycleNotice:
    recipient = application.notice_recipient()
    if state == LifecycleNotice.State.PENDING and not recipient:
        state = LifecycleNotice.State.NO_RECIPIENT
    return LifecycleNotice(
        api_version=version,
        application=application,
        kind=kind,
        lead_days=lead_days,
        sunset_at=sunset_at,
        recipient=recipient,
        state=state,
    )


def _insert(notices: list[LifecycleNotice]) -> None:
    # A row that exists already (sent, or planned by an earlier run) is left as it is.
    LifecycleNotice.objects.bulk_create(notices, ignore_conflicts=True, batch_size=1000)


def create_retirement_notices(version: ApiVersion) -> None:
    """Called inside the retirement's transaction: notices exist if and only if it happened."""
    assert version.sunset_at is not None  # retire_version sets it
    _insert(
        [
            _notice(
                version,
                app,
                kind=LifecycleNotice.Kind.RETIRED,
                lead_days=0,
                sunset_at=version.sunset_at,
            )
            for app in subscribed_applications(version)
        ]
    )


def plan_reminders(*, now: datetime, lead_days: tuple[int, ...], zone: ZoneInfo) -> int:
    """Reminder rows for every deprecated version whose sunset is within a lead time.

    Returns how many versions have a reminder due now.
    """
    versions = ApiVersion.objects.filter(
        lifecycle=ApiVersion.Lifecycle.DEPRECATED, sunset_at__gt=now
    ).select_related("api")
    due_count = 0
    for version in versions:
        assert version.sunset_at is not None
        due = due_reminders(version.sunset_at, lead_days, now, zone)
        if due.send is None:
            continue
        due_count += 1
        rows = []
        for app in subscribed_applications(version):
            rows.append(
                _notice(
                    version,
                    app,
                    kind=LifecycleNotice.Kind.REMINDER,
                    lead_days=due.send,
                    sunset_at=version.sunset_at,
                )
            )
            rows += [
                _notice(
                    version,
                    app,
                    kind=LifecycleNotice.Kind.REMINDER,
                    lead_days=lead,
                    sunset_at=version.sunset_at,
                    state=LifecycleNotice.State.SUPERSEDED,
                )
                for lead in due.superseded
            ]
        with transaction.atomic():
            _insert(rows)
    return due_count


def release_stale_claims(*, now: datetime, claim_timeout: timedelta) -> int:
    """Notices a dead worker was sending go back to pending (the task's time limit is far
    shorter than the timeout, so a live worker never loses its claim)."""
    return LifecycleNotice.objects.filter(
        state=LifecycleNotice.State.SENDING, claimed_at__lt=now - claim_timeout
    ).update(state=LifecycleNotice.State.PENDING)


def sendable_ids(*, now: datetime, quiet_period: timedelta) -> list[int]:
    """Pending notices no task is waiting to retry (untried, or last tried a while ago)."""
    return list(
        LifecycleNotice.objects.filter(state=LifecycleNotice.State.PENDING)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - quiet_period))
        .order_by("id")
        .values_list("id", flat=True)
    )


def claim(notice_id: int, *, now: datetime) -> LifecycleNotice | None:
    """The notice, now ours to send; None if another run has it or it is done."""
    claimed = LifecycleNotice.objects.filter(
        pk=notice_id, state=LifecycleNotice.State.PENDING
    ).update(state=LifecycleNotice.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    return LifecycleNotice.objects.select_related(
        "api_version__api", "api_version__successor__api", "application__organization"
    ).get(pk=notice_id)


def _message(notice: LifecycleNotice, zone: ZoneInfo) -> EmailMessage:
    version = notice.api_version
    successor = version.successor
    context: dict[str, object] = {
        "notice": notice,
        "version": version,
        "api": version.api,
        "application": notice.application,
        "zone": zone.key,
        "path": version.full_path(),
        "successor": successor,
        "successor_path": successor.full_path() if successor else "",
        "changelog_url": version.changelog_url,
    }
    local = notice.sunset_at.astimezone(zone)
    utc = notice.sunset_at.astimezone(UTC)
    # Formatted here: the template engine would show them in Django's zone, not the notice's.
    context["sunset_day"] = f"{local.day} {local:%B %Y}"
    context["sunset_local"] = f"{local:%A} {local.day} {local:%B %Y, %H:%M}"
    context["sunset_utc"] = f"{utc:%Y-%m-%d %H:%M}"
    template = "reminder" if notice.kind == LifecycleNotice.Kind.REMINDER else "retired"
    subject = render_to_string(f"gateway/email/{template}_subject.txt", context)
    body = render_to_string(f"gateway/email/{template}_body.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.recipient],
        headers={"Message-ID": notice.message_id},
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one attempt did: `retry` when it failed and attempts remain."""

    notice_id: int
    sent: bool
    retry: bool = False
    error: str = ""


def deliver(
    notice: LifecycleNotice, *, now: datetime, zone: ZoneInfo, max_attempts: int
) -> Delivery:
    """Send a claimed notice and record the outcome. Mail server errors are recorded, not raised."""
    try:
        _message(notice, zone).send(fail_silently=False)
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        error = f"{type(exc).__name__}: {exc}"[:2000]
        final = notice.attempts >= max_attempts
        LifecycleNotice.objects.filter(pk=notice.pk, state=LifecycleNotice.State.SENDING).update(
            state=LifecycleNotice.State.FAILED if final else LifecycleNotice.State.PENDING,
            last_error=error,
        )
        log.warning("notice %s: attempt %s failed: %s", notice.pk, notice.attempts, error)
        return Delivery(notice.pk, sent=False, retry=not final, error=error)
    LifecycleNotice.objects.filter(pk=notice.pk, state=LifecycleNotice.State.SENDING).update(
        state=LifecycleNotice.State.SENT, sent_at=now, last_error=""
    )
    return Delivery(notice.pk, sent=True)


def requeue_failed(notice_ids: list[int]) -> int:
    """An owner's retry of notices whose attempts ran out: they start again from zero."""
    return LifecycleNotice.objects.filter(
        pk__in=notice_ids, state=LifecycleNotice.State.FAILED
    ).update(state=LifecycleNotice.State.PENDING, attempts=0, claimed_at=None)

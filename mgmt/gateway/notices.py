"""Lifecycle notices to the owners of the applications that call a version (mgmt.gateway.usage):
one when it is deprecated, reminders before its sunset, one when it is retired. Each is
planned once per (version, application, kind, lead time, sunset), or per deprecation date,
and claimed with a conditional UPDATE before sending, so a rerun, a second worker or a retry
never sends one twice, and a crash never loses one. An application with no address gets a
row too (no_recipient): the admin names it to the API owner instead of skipping it.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string

from mgmt.gateway import usage
from mgmt.gateway.models import ApiVersion, Application, LifecycleNotice
from mgmt.lifecycle.notice_dates import after_announcement, due_reminders

log = logging.getLogger(__name__)

# The job announces a deprecation that took effect this recently (one dated in the future
# when it was made). Older ones are old news that their reminders carry, and the first run
# after an upgrade does not announce every version deprecated long ago.
ANNOUNCE_WITHIN: Final = timedelta(days=7)


def _notice(
    version: ApiVersion,
    application: Application,
    *,
    kind: str,
    lead_days: int,
    sunset_at: datetime | None,
    deprecated_at: datetime | None = None,
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
        deprecated_at=deprecated_at,
        recipient=recipient,
        state=state,
    )


def _insert(notices: list[LifecycleNotice]) -> None:
    # A row that exists already (sent, or planned by an earlier run) is left as it is.
    LifecycleNotice.objects.bulk_create(notices, ignore_conflicts=True, batch_size=1000)


def create_retirement_notices(version: ApiVersion, *, now: datetime) -> None:
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
            for app in usage.audience(version, now=now).applications
        ]
    )


def create_deprecation_notices(version: ApiVersion, *, now: datetime) -> None:
    """The announcement of a deprecation in effect, for each caller not told of it yet.

    Called inside the deprecation's transaction (notices exist if and only if it happened)
    and by the job; a deprecation dated in the future is announced by the job once it
    takes effect. A reschedule keeps the deprecation date, so it announces nothing again.
    """
    deprecated_at = version.deprecated_at
    if (
        version.lifecycle != ApiVersion.Lifecycle.DEPRECATED
        or deprecated_at is None
        or deprecated_at > now
        or (version.sunset_at is not None and version.sunset_at <= now)  # retirement's turn
    ):
        return
    _insert(
        [
            _notice(
                version,
                app,
                kind=LifecycleNotice.Kind.DEPRECATED,
                lead_days=0,
                sunset_at=version.sunset_at,
                deprecated_at=deprecated_at,
            )
            for app in usage.audience(version, now=now).applications
        ]
    )


def deprecation_notices(version: ApiVersion) -> QuerySet[LifecycleNotice]:
    """The notices announcing the version's current deprecation."""
    return version.notices.filter(
        kind=LifecycleNotice.Kind.DEPRECATED, deprecated_at=version.deprecated_at
    )


def plan_deprecation_notices(*, now: datetime) -> int:
    """Announces the deprecations that took effect within ANNOUNCE_WITHIN; returns how many
    versions it looked at. Each is locked and checked again, so a deprecation called off
    meanwhile is not announced."""
    candidates = ApiVersion.objects.filter(
        lifecycle=ApiVersion.Lifecycle.DEPRECATED,
        deprecated_at__lte=now,
        deprecated_at__gt=now - ANNOUNCE_WITHIN,
    ).filter(Q(sunset_at__isnull=True) | Q(sunset_at__gt=now))
    count = 0
    for candidate in candidates.order_by("id"):
        with transaction.atomic():
            version = (
                ApiVersion.objects.select_for_update()
                .select_related("api")
                .filter(
                    pk=candidate.pk,
                    lifecycle=ApiVersion.Lifecycle.DEPRECATED,
                    deprecated_at=candidate.deprecated_at,
                )
                .first()
            )
            if version is not None:
                create_deprecation_notices(version, now=now)
                count += 1
    return count


def plan_reminders(*, now: datetime, lead_days: tuple[int, ...], zone: ZoneInfo) -> int:
    """Reminder rows for every deprecated version whose sunset is within a lead time.

    Returns how many versions have a reminder due now.
    """
    versions = ApiVersion.objects.filter(
        lifecycle=ApiVersion.Lifecycle.DEPRECATED, sunset_at__gt=now
    ).select_related("api")
    due_count = 0
    for version in versions:
        sunset = version.sunset_at
        assert sunset is not None
        due = due_reminders(sunset, lead_days, now, zone)
        if due.send is None:
            continue
        due_count += 1
        # Told of this deprecation and this sunset already: what fell due by then is said.
        announced = set(
            deprecation_notices(version)
            .filter(sunset_at=sunset)
            .values_list("application_id", flat=True)
        )
        rows = []
        for app in usage.audience(version, now=now).applications:
            app_due = due
            if app.pk in announced and version.deprecated_at is not None:
                app_due = after_announcement(due, sunset, version.deprecated_at, zone)
            if app_due.send is not None:
                rows.append(
                    _notice(
                        version,
                        app,
                        kind=LifecycleNotice.Kind.REMINDER,
                        lead_days=app_due.send,
                        sunset_at=sunset,
                    )
                )
            rows += [
                _notice(
                    version,
                    app,
                    kind=LifecycleNotice.Kind.REMINDER,
                    lead_days=lead,
                    sunset_at=sunset,
                    state=LifecycleNotice.State.SUPERSEDED,
                )
                for lead in app_due.superseded
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


_TEMPLATES: Final = {
    LifecycleNotice.Kind.DEPRECATED: "deprecated",
    LifecycleNotice.Kind.REMINDER: "reminder",
    LifecycleNotice.Kind.RETIRED: "retired",
}


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
    if notice.sunset_at is not None:  # a deprecation may have no sunset date yet
        local = notice.sunset_at.astimezone(zone)
        utc = notice.sunset_at.astimezone(UTC)
        # Formatted here: the template engine would show them in Django's zone, not the notice's.
        context["sunset_day"] = f"{local.day} {local:%B %Y}"
        context["sunset_local"] = f"{local:%A} {local.day} {local:%B %Y, %H:%M}"
        context["sunset_utc"] = f"{utc:%Y-%m-%d %H:%M}"
    template = _TEMPLATES[LifecycleNotice.Kind(notice.kind)]
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

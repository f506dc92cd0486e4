"""Who hears about a version's lifecycle: the subscribed applications that called it in the
last TOLLGATE_NOTICE_CALLER_DAYS days, from the recorded usage (mgmt.analytics). When no
usage was recorded in that window (the access-log collector never ran), who calls is
unknown and every subscribed application hears, and the admin says so.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.utils import timezone

from mgmt.analytics import callers
from mgmt.gateway.models import ApiVersion, Application, Subscription

DEFAULT_CALLER_DAYS: Final = 30

# Subscriptions whose applications hear about their API's lifecycle.
_INFORMED_STATES = (Subscription.State.ACTIVE, Subscription.State.SUSPENDED)


def caller_days() -> int:
    """How far back a call makes an application a caller (TOLLGATE_NOTICE_CALLER_DAYS)."""
    return int(getattr(settings, "TOLLGATE_NOTICE_CALLER_DAYS", DEFAULT_CALLER_DAYS))


@dataclass(frozen=True, slots=True)
class Audience:
    """The applications told about one version, and on what grounds."""

    applications: list[Application]  # ordered by id, organization loaded
    by_usage: bool  # False: usage was not recorded, so every subscriber is told
    days: int
    since: datetime  # the window's start: a UTC midnight `days` days ago
    recorded_since: datetime | None  # the first recorded minute in the window

    @property
    def unreachable(self) -> list[Application]:
        """Told, but with no address to be told at: the API owner must hear of them."""
        return [a for a in self.applications if not a.notice_recipient()]

    @property
    def partial(self) -> bool:
        """Usage was recorded for only part of the window: earlier callers are unknown."""
        return self.recorded_since is not None and self.recorded_since > self.since

    @property
    def who(self) -> str:
        """What the admin's sentences call them: a caller, or a subscribed application."""
        return "caller" if self.by_usage else "subscribed application"

    def basis(self) -> str:
        """One sentence for the API owner on who is told."""
        if not self.by_usage:
            return (
                f"No usage was recorded in the last {self.days} days (the access-log collector "
                "did not run), so every application subscribed to this API's product is told."
            )
        told = (
            "The applications subscribed to this API's product that called this version in "
            f"the last {self.days} days are told"
        )
        if self.partial and self.recorded_since is not None:
            return f"{told}; usage is recorded only since {self.recorded_since:%Y-%m-%d %H:%M} UTC."
        return f"{told}."


def subscribed_applications(version: ApiVersion) -> list[Application]:
    return list(
        Application.objects.filter(
            subscriptions__product_id=version.api.product_id,
            subscriptions__state__in=_INFORMED_STATES,
        )
        .select_related("organization")
        .distinct()
        .order_by("id")
    )


def audience(version: ApiVersion, *, now: datetime | None = None) -> Audience:
    """Subscribed applications that called `version` lately; all of them when usage was
    not recorded. A caller no longer subscribed is not told: it cannot call any more."""
    days = caller_days()
    since = callers.start_of_day((now or timezone.now()) - timedelta(days=days))
    subscribed = subscribed_applications(version)
    recorded_since = callers.usage_recorded_since(since)
    if recorded_since is None:
        return Audience(subscribed, by_usage=False, days=days, since=since, recorded_since=None)
    calling = callers.applications_calling(version.pk, since=since)
    return Audience(
        [a for a in subscribed if a.pk in calling],
        by_usage=True,
        days=days,
        since=since,
        recorded_since=recorded_since,
    )

"""Names for the "throttled right now" list: each throttled application's organization,
plans, usable key prefixes, configured limits and the admin page where it is suspended.

The aggregated throttle events (mgmt.analytics.throttled_now) carry ids only; this looks
them up in a fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.urls import reverse

from mgmt.analytics.dashboard_queries import AppName, application_names
from mgmt.analytics.throttled_now import LimitHit, Throttled
from mgmt.gateway.models import ApiKey, Subscription
from mgmt.gateway.models.access import RateLimit


@dataclass(frozen=True, slots=True)
class ThrottledSubscription:
    """A throttled subscription, its limits as configured, and its admin page (where an
    owner suspends it: the subscription's state)."""

    label: str
    plan: str
    state: str
    limits: tuple[str, ...]
    url: str


@dataclass(frozen=True, slots=True)
class ThrottledApplication:
    application: AppName
    plans: tuple[str, ...]
    key_prefixes: tuple[str, ...]
    limits: tuple[LimitHit, ...]
    count: int
    last_at: datetime
    subscriptions: tuple[ThrottledSubscription, ...]


def configured_limits(subscription: Subscription) -> tuple[str, ...]:
    """The windows and quota a subscription is held to: the plan's, overridden per window
    length by the subscription's own (as the compiler does). Needs plan__rate_limits and
    rate_limits prefetched."""
    windows: dict[int, RateLimit] = {
        w.window_seconds: w for w in subscription.plan.rate_limits.all()
    }
    windows.update({w.window_seconds: w for w in subscription.rate_limits.all()})
    texts = [f"{w}{' (shadow)' if w.shadow else ''}" for _, w in sorted(windows.items())]
    quota = subscription.quota_requests or subscription.plan.quota_requests
    if quota:
        texts.append(f"{quota} per {subscription.plan.quota_period} (quota)")
    return tuple(texts)


def throttled_applications(
    throttled: Sequence[Throttled], now: datetime
) -> list[ThrottledApplication]:
    """The aggregated throttle events with names: five queries for any number of rows."""
    app_ids = [row.application_id for row in throttled]
    names = application_names(app_ids)
    subscription_ids = {s for row in throttled for s in row.subscription_ids}
    subscriptions = (
        Subscription.objects.filter(pk__in=subscription_ids)
        .select_related("plan", "product")
        .prefetch_related("plan__rate_limits", "rate_limits")
    )
    by_id = {s.pk: s for s in subscriptions}
    keys: dict[int, list[str]] = defaultdict(list)
    usable = ApiKey.objects.filter(application_id__in=app_ids).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=now),
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
    )
    for application_id, key_id in usable.order_by("-created_at").values_list(
        "application_id", "key_id"
    ):
        keys[application_id].append(f"tg_{key_id}_…")
    out = []
    for row in throttled:
        subs = [by_id[s] for s in row.subscription_ids if s in by_id]
        out.append(
            ThrottledApplication(
                application=names[row.application_id],
                plans=tuple(dict.fromkeys(s.plan.name for s in subs)),
                key_prefixes=tuple(keys.get(row.application_id, ())),
                limits=row.limits,
                count=row.count,
                last_at=datetime.fromtimestamp(row.last_at_ms / 1000, tz=now.tzinfo),
                subscriptions=tuple(
                    ThrottledSubscription(
                        label=f"{s.product.name} ({s.plan.name})",
                        plan=s.plan.name,
                        state=s.state,
                        limits=configured_limits(s),
                        url=reverse("admin:gateway_subscription_change", args=[s.pk]),
                    )
                    for s in subs
                ),
            )
        )
    return out

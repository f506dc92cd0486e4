"""What a partner sees of its own traffic: calls, errors and throttles per application, API
and day (from the day rollups), and each subscription's quota use in its current billing
period. Every query starts from an organization's own applications, never from an id the
caller gave, so nothing of another tenant can be reached.

The quota is read from the request path's own counter in Redis: the meter the gateway
enforces (and bills from), so exact, units a sidecar holds as a lease for the next fraction
of a second included. Only when that Redis is not configured or does not answer is it
estimated from the rollups, and then it is marked approximate.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final

import redis
from django.conf import settings
from django.db.models import F, QuerySet, Sum

from mgmt.analytics import selectors, timeline
from mgmt.analytics.models import UsageDay
from mgmt.compiler.inputs import PlanRow, SubscriptionRow
from mgmt.compiler.sidecar_resources import subscription_limits
from mgmt.gateway.models import Api, Application, Route, Subscription
from ratelimit_svc.counters import PreparedQuota, PreparedRule
from ratelimit_svc.quota_periods import Period
from ratelimit_svc.subscription_rules import subscription_rule

log = logging.getLogger(__name__)

# A range is at most a quarter (92 days covers any three calendar months).
MAX_RANGE_DAYS: Final = 92
DEFAULT_RANGE_DAYS: Final = 30
# Partners ahead of UTC are already in tomorrow; anything later has no traffic yet.
MAX_DAYS_AHEAD: Final = 1
# A page must not wait on a slow Redis: past this the quota is estimated instead.
COUNTER_TIMEOUT_SECONDS: Final = 0.5

_DAY: Final = timedelta(days=1)


# --- date ranges (pure) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateRange:
    """Whole UTC days, `start` to `end` inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """[first instant, instant after the last day) in UTC."""
        return midnight(self.start), midnight(self.end) + _DAY

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _days_before(day: date, days: int) -> date:
    """`day` minus `days`, stopping at the first day there is (no OverflowError)."""
    return day - min(timedelta(days=days), day - date.min)


def resolve_range(
    start: date | None, end: date | None, today: date
) -> tuple[DateRange | None, dict[str, list[str]]]:
    """The range asked for, missing ends filled in (`to`: today; `from`: the 30 days up to
    `to`), or field errors keyed `from` / `to` as the query names them."""
    end = end or today
    start = start or _days_before(end, DEFAULT_RANGE_DAYS - 1)
    errors: dict[str, list[str]] = {}
    latest = today + timedelta(days=MAX_DAYS_AHEAD)
    if end > latest:
        errors["to"] = [f"must be {latest.isoformat()} or earlier: later days have no traffic yet"]
    if start > end:
        errors["from"] = [f"must not be after to ({end.isoformat()})"]
    elif (end - start).days + 1 > MAX_RANGE_DAYS:
        errors.setdefault("to", []).append(
            f"a range is at most {MAX_RANGE_DAYS} days: with from {start.isoformat()}, "
            f"to is {(start + timedelta(days=MAX_RANGE_DAYS - 1)).isoformat()} at the latest"
        )
    return (None, errors) if errors else (DateRange(start, end), {})


# --- calls, errors and throttles per application, API and day -----------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    calls: int = 0
    errors: int = 0
    throttled: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            self.calls + other.calls, self.errors + other.errors, self.throttled + other.throttled
        )


@dataclass(frozen=True, slots=True)
class ApiName:
    """An API as a partner knows it; slug and name are empty once the API is deleted."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: date
    application: Application
    api: ApiName | None  # None: traffic no API was attributed to
    counts: Counts


def _applications_of(organization_id: int) -> QuerySet[Application]:
    return Application.objects.filter(organization_id=organization_id)


def usage_rows(
    organization_id: int, dates: DateRange, application: Application | None = None
) -> QuerySet[Any, Any]:
    """One row per day, application and API of the organization's applications (or of
    `application`, which must be one of them): a queryset, so that a page of it can be
    cut in the database. Versions, routes and status classes are summed."""
    first, after = dates.bounds()
    owned = _applications_of(organization_id)
    if application is not None:
        owned = owned.filter(pk=application.pk)
    return (
        UsageDay.objects.filter(
            application_id__in=owned.values("pk"), bucket__gte=first, bucket__lt=after
        )
        .values("bucket", "application_id", "api_id")
        .annotate(calls=Sum("requests"), failed=Sum("errors"), refused=Sum("throttled"))
        .order_by("bucket", "application_id", "api_id")
    )


def _api_names(ids: Iterable[int]) -> dict[int, ApiName]:
    wanted = {i for i in ids if i}
    found = {
        pk: ApiName(pk, slug, name)
        for pk, slug, name in Api.objects.filter(pk__in=wanted).values_list("pk", "slug", "name")
    }
    return {i: found.get(i) or ApiName(i, "", "") for i in wanted}


def named(rows: Sequence[Mapping[str, Any]], organization_id: int) -> list[DailyUsage]:
    """`usage_rows` rows (or a page of them) with their application and API."""
    applications = {
        a.pk: a
        for a in _applications_of(organization_id).filter(
            pk__in={r["application_id"] for r in rows}
        )
    }
    apis = _api_names(r["api_id"] for r in rows)
    return [
        DailyUsage(
            day=r["bucket"].astimezone(UTC).date(),
            application=applications[r["application_id"]],
            api=apis.get(r["api_id"]),
            counts=Counts(r["calls"] or 0, r["failed"] or 0, r["refused"] or 0),
        )
        for r in rows
        if r["application_id"] in applications
    ]


def total(usage: Iterable[DailyUsage]) -> Counts:
    return sum((u.counts for u in usage), Counts())


def totals_by_application(organization_id: int, dates: DateRange) -> dict[int, Counts]:
    """Application id -> its counts over `dates`: the dashboard's summary, one query."""
    first, after = dates.bounds()
    rows = (
        UsageDay.objects.filter(
            application_id__in=_applications_of(organization_id).values("pk"),
            bucket__gte=first,
            bucket__lt=after,
        )
        .values("application_id")
        .annotate(calls=Sum("requests"), failed=Sum("errors"), refused=Sum("throttled"))
        .order_by()
    )
    return {
        r["application_id"]: Counts(r["calls"] or 0, r["failed"] or 0, r["refused"] or 0)
        for r in rows
    }


# --- quotas ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotaUse:
    """A subscription's quota in its billing period at the moment it was read."""

    subscription: Subscription
    limit: int
    shadow: bool  # counted, never enforced
    period_start: datetime
    period_end: datetime
    used: int
    # True: the gateway's own counter; False: estimated from the rollups.
    exact: bool

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def prepared_quota(subscription: Subscription, *, metered: bool = False) -> PreparedQuota | None:
    """The quota exactly as the rate limiter prepares it for this subscription (the same
    rows -> xDS resource -> rule path), so its Redis key and billing periods are the
    request path's own; None without a quota, or with a period the compiler refuses.
    `metered`: the plan is priced, so without a quota its billing meter is returned."""
    plan = subscription.plan
    plan_row = PlanRow(
        id=plan.pk,
        slug=plan.slug,
        name=plan.name,
        product_id=plan.product_id,
        quota_requests=plan.quota_requests or 0,
        quota_period_months=plan.quota_period_months,
        quota_shadow=plan.quota_shadow,
        metered=metered,
    )
    subscription_row = SubscriptionRow(
        id=subscription.pk,
        application_id=subscription.application_id,
        product_id=subscription.product_id,
        plan_slug=plan.slug,
        plan_id=plan.pk,
        started_at=int(subscription.started_at.timestamp()),
        quota_requests=subscription.quota_requests or 0,
    )
    try:
        rule = subscription_rule(subscription_limits(plan_row, subscription_row))
        return PreparedRule.of(rule).quota
    except ValueError:  # a period of neither 1 nor 12 months: the compiler names the plan
        return None


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=COUNTER_TIMEOUT_SECONDS,
        socket_connect_timeout=COUNTER_TIMEOUT_SECONDS,
    )


def counters_url() -> str:
    """Where the sidecars count (their TOLLGATE_REDIS_URL); empty: mgmt cannot see it."""
    return str(getattr(settings, "TOLLGATE_COUNTERS_REDIS_URL", "") or "")


def read_counters(url: str, fields: Sequence[tuple[str, str]]) -> list[int] | None:
    """HGET of each (key, field) in one round trip; a missing one is 0 (nothing counted
    yet this period). None when that Redis cannot answer."""
    if not fields:
        return []
    try:
        pipeline = _client(url).pipeline(transaction=False)
        for key, field in fields:
            pipeline.hget(key, field)
        values = pipeline.execute()
    except redis.RedisError as error:
        log.warning("quota counters unreadable, estimating from rollups: %s", type(error).__name__)
        return None
    return [int(v) if v is not None else 0 for v in values]


def _estimated_use(subscription: Subscription, start: datetime, now: datetime) -> int:
    """Admitted calls (not throttled) of the application to the product's APIs since the
    period's first day, each weighted by its route's current cost. Approximate: the first
    day is counted whole, a route's cost may have changed, and other refusals (403) are
    counted too; the meter itself is in Redis."""
    rows = (
        UsageDay.objects.filter(
            application_id=subscription.application_id,
            api_id__in=Api.objects.filter(product_id=subscription.product_id).values("pk"),
            bucket__gte=midnight(start.astimezone(UTC).date()),
            bucket__lt=now,
        )
        .values("route_id")
        .annotate(admitted=Sum(F("requests") - F("throttled")))
        .order_by()
    )
    admitted = {r["route_id"]: r["admitted"] or 0 for r in rows}
    costs = dict(Route.objects.filter(pk__in=admitted).values_list("pk", "cost"))
    return sum(count * costs.get(route, 1) for route, count in admitted.items())


def quota_uses(subscriptions: Iterable[Subscription], now: datetime) -> list[QuotaUse]:
    """The quota use of each subscription that has a quota, in the order given."""
    found: list[tuple[Subscription, PreparedQuota, Period]] = []
    for subscription in subscriptions:
        quota = prepared_quota(subscription)
        if quota is not None:
            found.append((subscription, quota, quota.period_at(int(now.timestamp() * 1000))))
    url = counters_url()
    counted = (
        read_counters(url, [(quota.key, str(period.index)) for _, quota, period in found])
        if url
        else None
    )
    uses = []
    for n, (subscription, quota, period) in enumerate(found):
        exact = counted is not None
        if counted is not None:
            used = counted[n]
        else:
            used = _estimated_use(subscription, period.start, now)
        uses.append(
            QuotaUse(
                subscription=subscription,
                limit=quota.limit,
                shadow=quota.shadow,
                period_start=period.start,
                period_end=period.end,
                used=used,
                exact=exact,
            )
        )
    return uses


# --- what the pages show ----------------------------------------------------------------------


def by_day(usage: Iterable[DailyUsage], dates: DateRange) -> list[tuple[date, Counts]]:
    """Every day of `dates` with its counts, days without traffic as zeros."""
    summed: dict[date, Counts] = defaultdict(Counts)
    for u in usage:
        summed[u.day] = summed[u.day] + u.counts
    return [(day, summed.get(day, Counts())) for day in dates.dates()]


def day_coverage(dates: DateRange) -> list[str]:
    """Each day's coverage mark (mgmt.analytics.timeline): GAP or PARTIAL where the
    collector missed some of it, so a chart never shows missing data as no calls. Where
    nothing is known (older than the coverage kept, or not folded yet) it says FULL: the
    partner is shown what was counted, without a band."""
    first, after = dates.bounds()
    marks: dict[date, list[str]] = defaultdict(list)
    for bucket, mark in selectors.coverage(first, after):
        marks[bucket.astimezone(UTC).date()].append(mark)
    combined = (timeline.combine(marks.get(day, ())) for day in dates.dates())
    return [timeline.FULL if mark == timeline.NONE else mark for mark in combined]

"""Opening billing periods: each open subscription on a priced plan has one for the period
it is in, with its first segment (plan and the price in force at the period's start) and a
draft invoice. Idempotent: opening twice finds what the first made."""

from datetime import datetime

from django.db import IntegrityError, transaction

from mgmt.analytics.partner_usage import prepared_quota
from mgmt.billing.models import BillingPeriod, Invoice, PeriodSegment, PlanPrice
from mgmt.gateway.models import Plan, Subscription

BILLED_STATES = (Subscription.State.ACTIVE, Subscription.State.SUSPENDED)


def price_in_force(plan: Plan, at: datetime) -> PlanPrice | None:
    """The newest price of `plan` valid at `at`."""
    return (
        PlanPrice.objects.filter(plan=plan, valid_from__lte=at)
        .prefetch_related("tiers")
        .order_by("-valid_from")
        .first()
    )


def open_periods(now: datetime) -> int:
    """Opens the current period of every billed subscription that lacks one; how many."""
    opened = 0
    # Those with a period running now need nothing: one query, not one per subscription.
    running = BillingPeriod.objects.filter(starts_at__lte=now, ends_at__gt=now).values(
        "subscription_ref"
    )
    subscriptions = (
        Subscription.objects.filter(state__in=BILLED_STATES, plan__prices__isnull=False)
        .exclude(pk__in=running)
        .distinct()
        .select_related("plan", "product", "application")
    )
    for subscription in subscriptions.iterator(chunk_size=2000):
        if open_period(subscription, now) is not None:
            opened += 1
    return opened


def open_period(subscription: Subscription, now: datetime) -> BillingPeriod | None:
    """The subscription's period at `now`, made if missing; None if no price is in force."""
    quota = prepared_quota(subscription, metered=True)
    if quota is None:
        return None
    period = quota.period_at(int(now.timestamp() * 1000))
    existing = BillingPeriod.objects.filter(
        subscription_ref=subscription.pk, index=period.index
    ).first()
    if existing is not None:
        return None
    price = price_in_force(subscription.plan, period.start)
    if price is None:
        return None
    try:
        with transaction.atomic():
            made = BillingPeriod.objects.create(
                subscription=subscription,
                subscription_ref=subscription.pk,
                index=period.index,
                starts_at=period.start,
                ends_at=period.end,
                issuer_id=subscription.product.organization_id,
                partner_id=subscription.application.organization_id,
                application_name=subscription.application.name,
                product_name=subscription.product.name,
                counter_key=quota.key,
            )
            PeriodSegment.objects.create(
                period=made,
                number=0,
                plan=subscription.plan,
                plan_name=subscription.plan.name,
                price=price,
                starts_at=period.start,
            )
            Invoice.objects.create(
                period=made,
                issuer_id=made.issuer_id,
                partner_id=made.partner_id,
                currency=price.currency,
            )
    except IntegrityError:
        return None  # made meanwhile by another run
    return made

"""A subscription moved to another plan mid-period: the period's current segment ends at
the counter's reading of that moment, and a new one starts on the new plan and its price.
Each plan then bills its own units, and its fee prorated by the time it lasted."""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Max

from mgmt.billing.meter_fold import read_units, reconcile
from mgmt.billing.models import BillingPeriod, PeriodSegment
from mgmt.billing.periods import price_in_force
from mgmt.gateway.models import Subscription

log = logging.getLogger(__name__)


def cut_segment(subscription: Subscription, now: datetime) -> PeriodSegment | None:
    """The new segment of the subscription's open period, or None if it has none open (the
    next meter run opens one on the new plan)."""
    period = (
        BillingPeriod.objects.filter(
            subscription_ref=subscription.pk,
            state=BillingPeriod.State.OPEN,
            starts_at__lte=now,
            ends_at__gt=now,
        )
        .order_by("-index")
        .first()
    )
    if period is None:
        return None
    values = read_units([period])
    if values is None:
        # The counters cannot be read now: the last reading is the best cut there is.
        log.warning("plan change of subscription %s cut at the last reading", subscription.pk)
        units = period.units
    else:
        units = reconcile(period.units, values[0])
    plan = subscription.plan
    price = price_in_force(plan, period.starts_at) or price_in_force(plan, now)
    with transaction.atomic():
        locked = BillingPeriod.objects.select_for_update().get(pk=period.pk)
        if locked.state != BillingPeriod.State.OPEN:
            return None
        last = PeriodSegment.objects.filter(period=locked).aggregate(n=Max("number"))["n"]
        return PeriodSegment.objects.create(
            period=locked,
            number=(last or 0) + 1,
            plan=plan,
            plan_name=plan.name,
            price=price,
            starts_at=now,
            units_at_start=units,
        )

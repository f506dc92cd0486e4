"""The meter fold: each open period's units read from the request path's own counter (the
quota's, or the billing meter's, in the sidecars' Redis) into the database, and its draft
invoice brought up to date. Idempotent by construction: a reading replaces the last one
(the counter is the running total of the period), so a rerun or two workers at once never
change a total."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from mgmt.analytics.partner_usage import counters_url, read_counters
from mgmt.billing.drafts import bill_of, write_bill
from mgmt.billing.models import BillingPeriod, Invoice
from mgmt.billing.periods import open_periods

log = logging.getLogger(__name__)

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class MeterFold:
    opened: int
    read: int
    changed: int
    unreadable: bool


def reconcile(recorded: int, counted: int) -> int:
    """What the period has used: the counter's value, except that a counter gone (0 while
    units were recorded: Redis lost it, or its key expired) never erases what was read."""
    if counted == 0 and recorded > 0:
        return recorded
    return counted


def read_units(periods: Sequence[BillingPeriod]) -> list[int] | None:
    """The counters of `periods` in one round trip; None when Redis cannot answer."""
    url = counters_url()
    if not url:
        return None
    return read_counters(url, [(p.counter_key, str(p.index)) for p in periods])


def fold_meters(now: datetime) -> MeterFold:
    opened = open_periods(now)
    periods = list(BillingPeriod.objects.filter(state=BillingPeriod.State.OPEN).order_by("pk"))
    read = changed = 0
    for start in range(0, len(periods), CHUNK):
        chunk = periods[start : start + CHUNK]
        values = read_units(chunk)
        if values is None:
            log.warning("billing meters unreadable (no counters Redis): drafts kept as they were")
            return MeterFold(opened, read, changed, True)
        read += len(chunk)
        for period, counted in zip(chunk, values, strict=True):
            units = reconcile(period.units, counted)
            if units != period.units or period.read_at is None:
                refresh(period, units, now)
                changed += 1
    return MeterFold(opened, read, changed, False)


def refresh(period: BillingPeriod, units: int, now: datetime) -> None:
    """The period's units and its draft's lines, in one transaction; a period closed
    meanwhile is left alone."""
    with transaction.atomic():
        locked = (
            BillingPeriod.objects.select_for_update()
            .filter(pk=period.pk, state=BillingPeriod.State.OPEN)
            .first()
        )
        if locked is None:
            return
        invoice = Invoice.objects.select_for_update().get(period=locked)
        if invoice.state == Invoice.State.DRAFT:
            write_bill(invoice, bill_of(locked, units))
            invoice.save()
        locked.units = units
        locked.read_at = now
        locked.save(update_fields=["units", "read_at"])

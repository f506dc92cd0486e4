"""Closing a period, exactly once: its final reading, its invoice finalized with the
issuer's next number, its `invoice.finalized` event, all in one transaction that claims
the period by locking its row while it is still open. A rerun finds it closed; a second
worker skips the locked row; a worker killed mid-close commits nothing, so the next run
closes it. The counter is read before the transaction (no lock held across Redis)."""

import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from django.db import transaction

from mgmt.billing.documents import INVOICE, take_number
from mgmt.billing.drafts import bill_of, write_bill
from mgmt.billing.events import emit
from mgmt.billing.meter_fold import read_units, reconcile
from mgmt.billing.models import BillingPeriod, Invoice

log = logging.getLogger(__name__)

# Tests only: with this set, a close writes everything, creates that file and waits before
# committing, so a test can SIGKILL the worker with the transaction open.
PAUSE_FILE_ENV: Final = "TOLLGATE_BILLING_TEST_PAUSE_FILE"
PAUSE_SECONDS: Final = 60


def close_due(now: datetime, settle: timedelta) -> int:
    """Closes every open period that ended at least `settle` ago (leases given back, the
    last checks of the period counted); how many this run closed."""
    due = BillingPeriod.objects.filter(
        state=BillingPeriod.State.OPEN, ends_at__lte=now - settle
    ).values_list("pk", flat=True)
    return sum(close_period(pk, now) for pk in list(due))


def close_period(period_id: int, now: datetime) -> bool:
    period = BillingPeriod.objects.filter(pk=period_id, state=BillingPeriod.State.OPEN).first()
    if period is None:
        return False
    values = read_units([period])
    if values is None:
        log.warning("period %s not closed: its counter cannot be read now", period_id)
        return False
    with transaction.atomic():
        locked = (
            BillingPeriod.objects.select_for_update(skip_locked=True)
            .filter(pk=period_id, state=BillingPeriod.State.OPEN)
            .first()
        )
        if locked is None:
            return False  # closed, or being closed by another worker
        units = reconcile(locked.units, values[0])
        invoice = Invoice.objects.select_for_update().get(period=locked)
        bill = bill_of(locked, units)
        write_bill(invoice, bill)
        invoice.sequence, invoice.number = take_number(invoice.issuer, INVOICE)
        invoice.state = Invoice.State.FINALIZED
        invoice.finalized_at = now
        invoice.save()
        locked.units = units
        locked.read_at = now
        locked.state = BillingPeriod.State.CLOSED
        locked.closed_at = now
        locked.save(update_fields=["units", "read_at", "state", "closed_at"])
        emit(
            invoice.issuer,
            "invoice.finalized",
            f"invoice:{invoice.pk}",
            {
                "invoice": invoice.number,
                "partner": invoice.partner.slug,
                "application": locked.application_name,
                "product": locked.product_name,
                "period_start": locked.starts_at.isoformat(),
                "period_end": locked.ends_at.isoformat(),
                "units": units,
                "currency": invoice.currency,
                "total": str(invoice.total),
                "lines": [
                    {
                        "description": line.description,
                        "quantity": line.quantity,
                        "unit_amount": str(line.unit_amount),
                        "amount": str(line.amount),
                    }
                    for line in bill.lines
                ],
            },
        )
        pause_file = os.environ.get(PAUSE_FILE_ENV)
        if pause_file:
            Path(pause_file).touch()
            time.sleep(PAUSE_SECONDS)
    return True

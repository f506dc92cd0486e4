"""An invoice's lines and total from its period's segments and units: the running draft
during the period, and what the close job finalizes."""

from django.db import transaction

from mgmt.billing.models import BillingPeriod, Invoice, InvoiceLine, PeriodSegment
from mgmt.billing.segments_bill import PeriodBill, Segment, bill_period


def bill_of(period: BillingPeriod, units: int) -> PeriodBill:
    segments = PeriodSegment.objects.filter(period=period).select_related("price")
    return bill_period(
        [
            Segment(
                s.plan_name,
                s.price.as_price() if s.price is not None else None,
                s.starts_at,
                s.units_at_start,
            )
            for s in segments.prefetch_related("price__tiers")
        ],
        period.starts_at,
        period.ends_at,
        units,
    )


def write_bill(invoice: Invoice, bill: PeriodBill) -> None:
    """Replace the invoice's lines by the bill's (a draft's only: finalized ones never change)."""
    assert transaction.get_connection().in_atomic_block
    assert invoice.state == Invoice.State.DRAFT, "a finalized invoice is never edited"
    InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=i,
            kind=line.kind,
            description=line.description[:300],
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            amount=line.amount,
        )
        for i, line in enumerate(bill.lines)
    )
    invoice.units = bill.units
    invoice.total = bill.total
    if bill.currency:
        invoice.currency = bill.currency

"""A period's bill from its segments: each segment's units at its plan's price, its fee
prorated by the time it lasted. Pure: the segments are passed in, no DB, no clock."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mgmt.billing.pricing import Bill, Line, Price, price_period
from mgmt.billing.proration import fee_fraction


@dataclass(frozen=True, slots=True)
class Segment:
    plan_name: str
    price: Price | None  # None: no price in force, nothing billed
    starts_at: datetime
    units_at_start: int


@dataclass(frozen=True, slots=True)
class PeriodBill:
    currency: str
    units: int
    lines: tuple[Line, ...]
    total: Decimal


class MixedCurrencies(ValueError):
    """Segments priced in different currencies cannot share one invoice."""


def bill_period(
    segments: Sequence[Segment], period_start: datetime, period_end: datetime, units: int
) -> PeriodBill:
    """`units`: the period's counter now (or at its close). A segment bills the units
    counted from its start to the next segment's start (the last one: to `units`)."""
    if not segments:
        raise ValueError("a period has at least one segment")
    currencies = {s.price.currency for s in segments if s.price is not None}
    if len(currencies) > 1:
        raise MixedCurrencies(f"one period priced in {', '.join(sorted(currencies))}")
    currency = currencies.pop() if currencies else ""
    lines: list[Line] = []
    named = len(segments) > 1
    for i, segment in enumerate(segments):
        following = segments[i + 1] if i + 1 < len(segments) else None
        upto_units = following.units_at_start if following else units
        seg_units = max(0, upto_units - segment.units_at_start)
        if segment.price is None:
            continue
        ends_at = following.starts_at if following else period_end
        bill: Bill = price_period(
            segment.price,
            seg_units,
            fee_fraction(period_start, period_end, segment.starts_at, ends_at),
        )
        for line in bill.lines:
            description = f"{segment.plan_name}: {line.description}" if named else line.description
            lines.append(Line(line.kind, description, line.quantity, line.unit_amount, line.amount))
    total = sum((line.amount for line in lines), Decimal(0))
    return PeriodBill(currency, max(0, units), tuple(lines), total)

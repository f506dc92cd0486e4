"""Revenue of a set of invoices, summed by the database: per month and currency, and per
API product and plan.

Revenue is what finalized and paid invoices bill, less their credit notes; a void invoice
bills nothing and a draft nothing yet. An invoice counts in the month its period starts
(UTC), and a credit note against its invoice's month and currency, so a month's figure is
what its periods earned. Amounts of different currencies are never added together.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from django.db.models import CharField, Count, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from mgmt.billing.currencies import is_currency, quantize
from mgmt.billing.models import CreditNote, Invoice, PeriodSegment

BILLED: Final = (Invoice.State.FINALIZED, Invoice.State.PAID)
ZERO: Final = Decimal(0)
NO_PLAN: Final = "—"


@dataclass(frozen=True, slots=True)
class MonthRevenue:
    month: date
    """The first day of the month (UTC)."""
    currency: str
    invoices: int
    invoiced: Decimal
    credited: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.invoiced - self.credited


@dataclass(frozen=True, slots=True)
class PlanRevenue:
    product: str
    plan: str
    """The plan the period ended on (its last segment's)."""
    currency: str
    invoices: int
    units: int
    invoiced: Decimal
    credited: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.invoiced - self.credited


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    invoiced: Decimal
    credited: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.invoiced - self.credited


# --- pure ------------------------------------------------------------------------------------


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from `first`'s to `last`'s, both included (none if last is earlier)."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def money(amount: Decimal | None, currency: str) -> Decimal:
    """A sum as the currency writes it (12.30, not 12.300000): exact, since every invoice
    total and credit note is in the minor unit already."""
    value = amount if amount is not None else ZERO
    return quantize(value, currency) if is_currency(currency) else value


def totals(rows: Iterable[MonthRevenue]) -> list[CurrencyTotal]:
    """The months' rows summed per currency, currencies in alphabetical order."""
    invoiced: dict[str, Decimal] = {}
    credited: dict[str, Decimal] = {}
    for row in rows:
        invoiced[row.currency] = invoiced.get(row.currency, ZERO) + row.invoiced
        credited[row.currency] = credited.get(row.currency, ZERO) + row.credited
    return [CurrencyTotal(code, invoiced[code], credited[code]) for code in sorted(invoiced)]


# --- queries ---------------------------------------------------------------------------------


def billed(invoices: QuerySet[Invoice], since: date | None = None) -> QuerySet[Invoice]:
    """The invoices that count: finalized or paid, with a period from `since` on."""
    rows = invoices.filter(state__in=BILLED)
    if since is not None:
        rows = rows.filter(period__starts_at__gte=datetime(since.year, since.month, 1, tzinfo=UTC))
    return rows


def per_month(invoices: QuerySet[Invoice], since: date | None = None) -> list[MonthRevenue]:
    """Revenue per month and currency, oldest month first: two grouped queries."""
    counted = billed(invoices, since)
    sums = (
        counted.annotate(month=TruncMonth("period__starts_at", tzinfo=UTC))
        .values("month", "currency")
        .annotate(count=Count("pk"), invoiced=Sum("total"))
        .order_by("month", "currency")
    )
    credits = _credited(
        CreditNote.objects.filter(invoice__in=counted.values("pk")).annotate(
            month=TruncMonth("invoice__period__starts_at", tzinfo=UTC)
        ),
        ("month", "invoice__currency"),
    )
    return [
        MonthRevenue(
            month=month_start(row["month"]),
            currency=row["currency"],
            invoices=row["count"],
            invoiced=money(row["invoiced"], row["currency"]),
            credited=money(credits.get((row["month"], row["currency"])), row["currency"]),
        )
        for row in sums
    ]


def per_plan(invoices: QuerySet[Invoice], since: date | None = None) -> list[PlanRevenue]:
    """Revenue per product, plan and currency, by product and plan name."""
    counted = billed(invoices, since)
    sums = (
        counted.annotate(plan_name=_plan_name("period"))
        .values("period__product_name", "plan_name", "currency")
        .annotate(count=Count("pk"), units=Sum("units"), invoiced=Sum("total"))
        .order_by("period__product_name", "plan_name", "currency")
    )
    credits = _credited(
        CreditNote.objects.filter(invoice__in=counted.values("pk")).annotate(
            plan_name=_plan_name("invoice__period")
        ),
        ("invoice__period__product_name", "plan_name", "invoice__currency"),
    )
    return [
        PlanRevenue(
            product=row["period__product_name"],
            plan=row["plan_name"],
            currency=row["currency"],
            invoices=row["count"],
            units=row["units"] or 0,
            invoiced=money(row["invoiced"], row["currency"]),
            credited=money(
                credits.get((row["period__product_name"], row["plan_name"], row["currency"])),
                row["currency"],
            ),
        )
        for row in sums
    ]


def _plan_name(period_path: str) -> Coalesce:
    """The name of the plan a period ended on: its last segment's, as the segment kept it
    (the plan may since be renamed or gone)."""
    last_segment = (
        PeriodSegment.objects.filter(period=OuterRef(period_path))
        .order_by("-number")
        .values("plan_name")[:1]
    )
    return Coalesce(Subquery(last_segment), Value(NO_PLAN), output_field=CharField())


def _credited(notes: QuerySet[CreditNote], keys: tuple[str, ...]) -> dict[tuple[Any, ...], Decimal]:
    grouped = notes.values(*keys).annotate(amount=Sum("amount")).order_by()
    return {tuple(row[key] for key in keys): row["amount"] for row in grouped}

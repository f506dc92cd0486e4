"""The API owner's revenue report (staff only, wrapped by admin's own admin_view in urls.py):
revenue per month and currency with a chart of each currency, and per product and plan.

The invoices are the ones the invoice admin lists for the same person (its scoping); the
sums come from mgmt.billing.revenue, the charts from mgmt.analytics.charts. Reads only.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from mgmt.analytics import charts
from mgmt.billing import revenue
from mgmt.billing.models import Invoice

# How many months back the report reaches (the current month included); the first is the
# default.
RANGES: Final = (12, 24, 60)
# A month on the chart's time axis: charts.time_label reads any step of a day or more as
# the date of the bucket, which for a month bucket is its first day.
MONTH_STEP: Final = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class CurrencyChart:
    currency: str
    svg: SafeString


def months_back(value: str | None) -> int:
    try:
        months = int(value or "")
    except ValueError:
        return RANGES[0]
    return months if months in RANGES else RANGES[0]


def revenue_charts(
    rows: Sequence[revenue.MonthRevenue], first: date, last: date
) -> list[CurrencyChart]:
    """One line of monthly revenue per currency, every month of the range on it (a month
    without invoices earned nothing: zero, not a gap). Currencies are never on one scale."""
    months = revenue.months_between(first, last)
    buckets = [datetime(m.year, m.month, 1, tzinfo=UTC) for m in months]
    found: dict[str, dict[date, Decimal]] = {}
    for row in rows:
        found.setdefault(row.currency, {})[row.month] = row.revenue
    made = []
    for code in sorted(found):
        svg = charts.line_chart(
            chart_id=f"tg-revenue-{code.lower()}",
            title=f"Revenue per month in {code}",
            desc=f"What finalized and paid invoices billed in {code}, less credit notes, per "
            f"month of their billing period, {months[0]:%B %Y} to {months[-1]:%B %Y}.",
            buckets=buckets,
            step=MONTH_STEP,
            series=[charts.Series(code, [float(found[code].get(m, Decimal(0))) for m in months])],
            unit=f" {code}",
            area=True,
        )
        made.append(CurrencyChart(code, mark_safe(svg)))  # noqa: S308 - charts escapes its text
    return made


def report(request: HttpRequest) -> HttpResponse:
    invoice_admin = admin.site.get_model_admin(Invoice)
    if not invoice_admin.has_view_permission(request):
        raise PermissionDenied
    months = months_back(request.GET.get("months"))
    last = revenue.month_start(timezone.now())
    first = revenue.add_months(last, 1 - months)
    invoices = invoice_admin.get_queryset(request)
    by_month = revenue.per_month(invoices, since=first)
    context = {
        **admin.site.each_context(request),
        "title": "Revenue",
        "opts": Invoice._meta,
        "months": months,
        "ranges": RANGES,
        "first": first,
        "last": last,
        "by_month": by_month,
        "totals": revenue.totals(by_month),
        "by_plan": revenue.per_plan(invoices, since=first),
        "charts": revenue_charts(by_month, first, last),
    }
    return TemplateResponse(request, "billing/admin/revenue.html", context)

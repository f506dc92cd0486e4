"""An application's usage page (calls, errors and throttles per day and API over a date
range, its quotas in their billing periods, its keys' last use) and the dashboard's
summary of the last days. Members of any role may read them."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from mgmt.analytics import charts, partner_usage, timeline
from mgmt.analytics.partner_usage import Counts, DailyUsage, DateRange
from mgmt.developers import selectors
from mgmt.gateway.models import Application, Membership, Subscription
from mgmt.portal.guards import allow_methods, member_page, signed_in_user

# The dashboard sums this many days, today included.
SUMMARY_DAYS = 7


def _today() -> date:
    return timezone.now().date()  # now() is UTC (USE_TZ), so this is the UTC day


class UsageRangeForm(forms.Form):
    """`from` and `to` in the query string, both optional (the last 30 days by default)."""

    def __init__(self, data: Any = None, *, today: date) -> None:
        super().__init__(data)
        self.today = today
        self.fields["from"] = forms.DateField(
            required=False,
            label="From",
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            input_formats=["%Y-%m-%d"],
        )
        self.fields["to"] = forms.DateField(
            required=False,
            label="To",
            help_text=f"Days are UTC, both included; at most {partner_usage.MAX_RANGE_DAYS}.",
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            input_formats=["%Y-%m-%d"],
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        dates, errors = partner_usage.resolve_range(
            cleaned.get("from"), cleaned.get("to"), self.today
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field, message)
        cleaned["dates"] = dates
        return cleaned


def _chart(application: Application, dates: DateRange, days: list[DailyUsage]) -> SafeString:
    """Calls, errors and throttles per day; a day the collector missed entirely has no
    value (a gap in the lines, not a zero), a partly missed one a band."""
    coverage = partner_usage.day_coverage(dates)
    per_day = partner_usage.by_day(days, dates)

    def line(label: str, pick: Callable[[Counts], int]) -> charts.Series:
        values = [
            None if mark == timeline.GAP and not counts.calls else float(pick(counts))
            for (_, counts), mark in zip(per_day, coverage, strict=True)
        ]
        return charts.Series(label, values)

    svg = charts.line_chart(
        chart_id="usage-chart",
        title=f"Calls of {application.name} per day",
        desc=f"Calls, errors and throttled calls per UTC day from {dates.start} to {dates.end}.",
        buckets=[partner_usage.midnight(day) for day, _ in per_day],
        step=timeline.DAY,
        series=[
            line("Calls", lambda c: c.calls),
            line("Errors", lambda c: c.errors),
            line("Throttled", lambda c: c.throttled),
        ],
        coverage=coverage,
    )
    return mark_safe(svg)  # noqa: S308 - charts escapes every text it puts in the SVG


def _usage_context(application: Application, dates: DateRange) -> dict[str, Any]:
    organization_id = application.organization_id
    rows = partner_usage.usage_rows(organization_id, dates, application)
    days = partner_usage.named(list(rows), organization_id)
    open_subscriptions = selectors.subscriptions(application).filter(
        state__in=Subscription.OPEN_STATES
    )
    return {
        "dates": dates,
        "days": days,
        "chart": _chart(application, dates, days),
        "totals": partner_usage.total(days),
        "quotas": partner_usage.quota_uses(open_subscriptions, timezone.now()),
    }


@member_page
def usage(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = selectors.application_for(signed_in_user(request), org, public_id)
    allow_methods(request, "GET", "HEAD")
    # Always bound: with neither date given it is valid and means the last 30 days.
    form = UsageRangeForm(request.GET, today=_today())
    context: dict[str, Any] = {
        "organization": membership.organization,
        "application": found,
        "form": form,
        "keys": selectors.keys(found),
    }
    if not form.is_valid():
        return render(request, "portal/usage.html", context, status=400)
    dates: DateRange = form.cleaned_data["dates"]
    # The inputs show the days shown, defaults included.
    shown = {"from": dates.start.isoformat(), "to": dates.end.isoformat()}
    context["form"] = UsageRangeForm(shown, today=_today())
    context.update(_usage_context(found, dates))
    return render(request, "portal/usage.html", context)


def dashboard_summary(membership: Membership, applications: list[Application]) -> dict[str, Any]:
    """The dashboard's usage of one organization: each application's counts over the last
    SUMMARY_DAYS days (zeros when it made no call)."""
    today = _today()
    dates = DateRange(today - timedelta(days=SUMMARY_DAYS - 1), today)
    counted = partner_usage.totals_by_application(membership.organization_id, dates)
    return {
        "dates": dates,
        "rows": [
            (application, counted.get(application.pk, Counts())) for application in applications
        ],
    }

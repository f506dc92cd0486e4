"""/orgs/{org}/usage and /orgs/{org}/applications/{app}/usage: what the organization's
applications called, per day, and where their quotas stand. Every member may read them."""

from typing import Any

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.analytics import partner_usage
from mgmt.analytics.partner_usage import DateRange
from mgmt.devapi.pagination import Pagination
from mgmt.devapi.serializers import usage as s
from mgmt.devapi.views.common import OrgScopedView, application_of, documented, member_of
from mgmt.developers import selectors
from mgmt.gateway.models import Subscription

_RANGE_WORDS = (
    "Days are UTC; `from` and `to` are both included (default: the last 30 days, at most "
    f"{partner_usage.MAX_RANGE_DAYS}). Figures lag the traffic by a minute or two."
)


def _dates(request: Request) -> DateRange:
    """The query's range; a ValidationError (400 with `from` / `to` errors) otherwise."""
    # now() is UTC (USE_TZ): its date is the UTC day.
    query = s.UsageQuery(data=request.query_params, context={"today": timezone.now().date()})
    query.is_valid(raise_exception=True)
    dates: DateRange = query.validated_data["dates"]
    return dates


class OrganizationUsageView(OrgScopedView):
    @documented(
        "Usage",
        "Calls, errors and throttles of each of your organization's applications, per day "
        f"and API, oldest first, in pages. {_RANGE_WORDS}",
        parameters=[s.UsageQuery],
        responses=s.DailyUsageOutput(many=True),
    )
    def get(self, request: Request, org: str) -> Response:
        membership = member_of(request, org)
        dates = _dates(request)
        rows = partner_usage.usage_rows(membership.organization_id, dates)
        paginator = Pagination()
        chosen = paginator.paginate_queryset(rows, request, view=self) or []
        usage = partner_usage.named(chosen, membership.organization_id)
        return paginator.get_paginated_response(s.DailyUsageOutput(usage, many=True).data)


class ApplicationUsageView(OrgScopedView):
    @documented(
        "An application's usage",
        "Its calls, errors and throttles per day and API, with totals, and the quota of each "
        "open subscription: used and remaining in the current billing period, which runs "
        "from the subscription's start. `exact` says whether `used` is the gateway's own "
        f"counter (it normally is) or an estimate. {_RANGE_WORDS}",
        parameters=[s.UsageQuery],
        responses=s.ApplicationUsageOutput,
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        application = application_of(request, org, app)
        dates = _dates(request)
        organization_id = application.organization_id
        rows = partner_usage.usage_rows(organization_id, dates, application)
        days = partner_usage.named(list(rows), organization_id)
        open_subscriptions = selectors.subscriptions(application).filter(
            state__in=Subscription.OPEN_STATES
        )
        body: dict[str, Any] = {
            "application": application.public_id,
            "from": dates.start,
            "to": dates.end,
            "totals": partner_usage.total(days),
            "days": days,
            "quotas": partner_usage.quota_uses(open_subscriptions, timezone.now()),
        }
        return Response(s.ApplicationUsageOutput(body).data)

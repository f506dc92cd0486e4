"""/orgs/{org}/applications/{app}/subscriptions and their limit requests."""

from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.devapi.serializers import access as s
from mgmt.devapi.views.common import (
    OrgScopedView,
    application_of,
    documented,
    output,
    page,
    user_of,
    valid,
)
from mgmt.developers import access, selectors
from mgmt.gateway.models import Subscription


def _subscription(request: Request, org: str, app: str, subscription_id: int) -> Subscription:
    return selectors.subscription(application_of(request, org, app), subscription_id)


class SubscriptionListView(OrgScopedView):
    @documented(
        "Subscriptions",
        "The application's subscriptions, with the limits in force on each.",
        responses=s.SubscriptionOutput(many=True),
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        rows = selectors.subscriptions(application_of(request, org, app))
        return page(self, request, rows, s.SubscriptionOutput)

    @documented(
        "Subscribe",
        "Owners and developers. Subscribes the application to the plan's product: active "
        "at once, or pending until the API owner approves when the plan requires it. One "
        "open subscription per product; cancel it to change plans.",
        request=s.SubscribeInput,
        responses={201: s.SubscriptionOutput},
    )
    def post(self, request: Request, org: str, app: str) -> Response:
        found = application_of(request, org, app)
        data = valid(s.SubscribeInput, request)
        plan = selectors.public_plan(data["plan"])
        created = access.subscribe(application=found, plan=plan)
        return output(s.SubscriptionOutput, selectors.subscription(found, created.pk), 201)


class SubscriptionDetailView(OrgScopedView):
    @documented(
        "A subscription", "One subscription, with its limits.", responses=s.SubscriptionOutput
    )
    def get(self, request: Request, org: str, app: str, subscription_id: int) -> Response:
        return output(s.SubscriptionOutput, _subscription(request, org, app, subscription_id))

    @documented(
        "Cancel a subscription",
        "Owners and developers. Ends it at once: the gateway answers 403 within seconds. "
        "Cancelling twice is harmless.",
        responses=s.SubscriptionOutput,
    )
    def delete(self, request: Request, org: str, app: str, subscription_id: int) -> Response:
        found = _subscription(request, org, app, subscription_id)
        return output(s.SubscriptionOutput, access.cancel_subscription(subscription=found))


class LimitRequestListView(OrgScopedView):
    @documented(
        "Limit requests",
        "Requests for higher limits on this subscription, with their answers.",
        responses=s.LimitRequestOutput(many=True),
    )
    def get(self, request: Request, org: str, app: str, subscription_id: int) -> Response:
        found = _subscription(request, org, app, subscription_id)
        return page(self, request, selectors.limit_requests(found), s.LimitRequestOutput)

    @documented(
        "Ask for higher limits",
        "Owners and developers. Asks the API owner for other rate-limit windows and/or a "
        "quota on this subscription, with a reason. Once approved in admin they apply at "
        "the gateway. One request waits at a time.",
        request=s.LimitRequestInput,
        responses={201: s.LimitRequestOutput},
    )
    def post(self, request: Request, org: str, app: str, subscription_id: int) -> Response:
        found = _subscription(request, org, app, subscription_id)
        data = valid(s.LimitRequestInput, request)
        created = access.request_limits(
            subscription=found,
            by=user_of(request),
            windows=[dict(w) for w in data["windows"]],
            quota_requests=data.get("quota_requests"),
            reason=data["reason"],
        )
        return output(s.LimitRequestOutput, created, status=201)


class LimitRequestDetailView(OrgScopedView):
    @documented("A limit request", "One request and its answer.", responses=s.LimitRequestOutput)
    def get(
        self, request: Request, org: str, app: str, subscription_id: int, request_id: int
    ) -> Response:
        found = _subscription(request, org, app, subscription_id)
        return output(s.LimitRequestOutput, selectors.limit_request(found, request_id))

    @documented(
        "Withdraw a limit request",
        "Owners and developers. A pending request is withdrawn; an answered one stays.",
        responses=s.LimitRequestOutput,
    )
    def delete(
        self, request: Request, org: str, app: str, subscription_id: int, request_id: int
    ) -> Response:
        found = selectors.limit_request(
            _subscription(request, org, app, subscription_id), request_id
        )
        return output(s.LimitRequestOutput, access.withdraw_limit_request(limit_request=found))

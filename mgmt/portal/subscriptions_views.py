"""One subscription of an application: its limits, cancelling it, and the partner's
requests for higher limits (ask, see the answer, withdraw while it is pending)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mgmt.developers import access, selectors
from mgmt.developers.errors import InvalidInput
from mgmt.developers.roles import Action, may
from mgmt.gateway.models import Membership, Subscription
from mgmt.portal.application_forms import LimitRequestForm
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.service_errors import show_on_form


def _subscription_page(
    request: HttpRequest,
    membership: Membership,
    subscription: Subscription,
    form: LimitRequestForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "organization": membership.organization,
        "application": subscription.application,
        "subscription": subscription,
        "plan_limits": subscription.plan.rate_limits.all(),
        "is_open": subscription.state in Subscription.OPEN_STATES,
        "can_manage": may(membership.role, Action.MANAGE_APPLICATIONS),
        "limit_requests": selectors.limit_requests(subscription),
        "form": form or LimitRequestForm(),
    }
    return render(request, "portal/subscription.html", context, status=status)


def _scoped_subscription(
    request: HttpRequest, org: str, public_id: str, subscription_id: int, action: Action
) -> tuple[Membership, Subscription]:
    membership, application = selectors.application_for(
        signed_in_user(request), org, public_id, action
    )
    return membership, selectors.subscription(application, subscription_id)


@member_page
def subscription(
    request: HttpRequest, org: str, public_id: str, subscription_id: int
) -> HttpResponse:
    membership, found = _scoped_subscription(request, org, public_id, subscription_id, Action.READ)
    allow_methods(request, "GET", "HEAD")
    return _subscription_page(request, membership, found)


@member_page
def cancel(request: HttpRequest, org: str, public_id: str, subscription_id: int) -> HttpResponse:
    _, found = _scoped_subscription(
        request, org, public_id, subscription_id, Action.MANAGE_APPLICATIONS
    )
    allow_methods(request, "POST")
    access.cancel_subscription(subscription=found)
    messages.success(
        request, f"The subscription to {found.product.name} is cancelled: calls are refused."
    )
    return redirect("portal:application", org=org, public_id=public_id)


@member_page
def request_limits(
    request: HttpRequest, org: str, public_id: str, subscription_id: int
) -> HttpResponse:
    membership, found = _scoped_subscription(
        request, org, public_id, subscription_id, Action.MANAGE_APPLICATIONS
    )
    allow_methods(request, "POST")
    form = LimitRequestForm(request.POST)
    if form.is_valid():
        windows, rows = form.windows()
        try:
            access.request_limits(
                subscription=found,
                by=signed_in_user(request),
                windows=windows,
                quota_requests=form.cleaned_data["quota_requests"],
                reason=form.cleaned_data["reason"],
            )
        except InvalidInput as error:
            show_on_form(form, error, aliases=form.field_aliases(rows))
        else:
            messages.success(request, "Your request is with the API owner.")
            return redirect(
                "portal:subscription", org=org, public_id=public_id, subscription_id=found.pk
            )
    return _subscription_page(request, membership, found, form, status=400)


@member_page
def withdraw(
    request: HttpRequest, org: str, public_id: str, subscription_id: int, request_id: int
) -> HttpResponse:
    _, found = _scoped_subscription(
        request, org, public_id, subscription_id, Action.MANAGE_APPLICATIONS
    )
    limit_request = selectors.limit_request(found, request_id)
    allow_methods(request, "POST")
    access.withdraw_limit_request(limit_request=limit_request)
    messages.success(request, "Your request is withdrawn.")
    return redirect("portal:subscription", org=org, public_id=public_id, subscription_id=found.pk)

"""The catalog: products with their APIs, versions and plans, and subscribing one of the
caller's applications to a plan."""

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from mgmt.developers import access, selectors
from mgmt.developers.errors import InvalidInput
from mgmt.developers.roles import Action, may
from mgmt.gateway import config_rollout, publishing
from mgmt.gateway.models import Product, Snapshot, Subscription
from mgmt.portal.application_forms import SubscribeForm
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.service_errors import show_on_form


@member_page
def catalog(request: HttpRequest) -> HttpResponse:
    allow_methods(request, "GET", "HEAD")
    return render(request, "portal/catalog.html", {"products": selectors.catalog_products()})


def _subscribe_form(user: User, product: Product, data: QueryDict | None = None) -> SubscribeForm:
    plans = [(plan.slug, plan.name) for plan in product.plans.all()]
    applications = [
        (
            f"{membership.organization.slug}/{application.public_id}",
            f"{application.name} ({membership.organization.name})",
        )
        for membership in selectors.memberships_of(user)
        if may(membership.role, Action.MANAGE_APPLICATIONS)
        for application in selectors.applications(membership.organization_id)
    ]
    return SubscribeForm(data, plans=plans, applications=applications)


def _product_page(
    request: HttpRequest, product: Product, form: SubscribeForm, status: int = 200
) -> HttpResponse:
    return render(request, "portal/product.html", {"product": product, "form": form}, status=status)


@member_page
def product(request: HttpRequest, product_slug: str) -> HttpResponse:
    found = selectors.catalog_product(product_slug)
    allow_methods(request, "GET", "HEAD")
    return _product_page(request, found, _subscribe_form(signed_in_user(request), found))


# How long the subscribe page waits for the gateways before answering anyway.
_LIVE_WAIT_SECONDS = 2.0


def _live_briefly(covering: list[Snapshot]) -> bool:
    """Whether the connected gateways acknowledged the snapshot holding the subscription,
    waiting briefly (mgmt.gateway.config_rollout: no transaction, no lock held)."""
    if not covering or covering[-1].status != Snapshot.Status.PUBLISHED:
        return False
    return config_rollout.wait_for_rollout(covering[-1], timeout=_LIVE_WAIT_SECONDS).live


@member_page
def subscribe(request: HttpRequest, product_slug: str) -> HttpResponse:
    user = signed_in_user(request)
    found = selectors.catalog_product(product_slug)
    allow_methods(request, "POST")
    form = _subscribe_form(user, found, request.POST)
    if not form.is_valid():
        return _product_page(request, found, form, status=400)
    org_slug, public_id = form.chosen_application()
    # The choices were the caller's, but the POST is theirs to forge: fetch it scoped again.
    _, application = selectors.application_for(
        user, org_slug, public_id, Action.MANAGE_APPLICATIONS
    )
    plan = selectors.public_plan(form.cleaned_data["plan"])
    try:
        with publishing.tracking() as covering:
            subscription = access.subscribe(application=application, plan=plan)
    except InvalidInput as error:
        show_on_form(form, error)
        return _product_page(request, found, form, status=400)
    if subscription.state == Subscription.State.PENDING:
        messages.info(
            request,
            f"{application.name} asked for {found.name} on {plan.name}: "
            "the API owner approves it before calls are admitted.",
        )
    else:
        live = _live_briefly(covering)
        messages.success(
            request,
            f"{application.name} is subscribed to {found.name} on {plan.name}"
            + (": live at the gateway." if live else "; calls are admitted within seconds."),
        )
    return redirect("portal:application", org=org_slug, public_id=public_id)

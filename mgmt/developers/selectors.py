"""Reads for the developer API and portal. Everything a partner sees is reached through
their membership of an organization: a look-up outside it finds nothing, the same answer
as for a name that does not exist."""

from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet

from mgmt.developers.errors import NotFound, NotPermitted
from mgmt.developers.roles import Action, may
from mgmt.gateway.models import (
    AccessToken,
    ApiKey,
    ApiVersion,
    Application,
    Invitation,
    LimitRequest,
    Membership,
    Plan,
    PlanRateLimit,
    Product,
    Subscription,
)

# Versions partners may see and call: drafts are the owner's secret, retired ones are gone.
VISIBLE_LIFECYCLES = (ApiVersion.Lifecycle.PUBLISHED, ApiVersion.Lifecycle.DEPRECATED)


def memberships_of(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization")


def membership(user: User, organization_slug: str, action: Action = Action.READ) -> Membership:
    """The caller's membership of that organization, allowing `action`; NotFound when the
    caller is no member (whether or not it exists), NotPermitted when the role is short."""
    found = memberships_of(user).filter(organization__slug=organization_slug).first()
    if found is None:
        raise NotFound("no such organization")
    if not may(found.role, action):
        raise NotPermitted(f"your role ({found.role}) does not allow this")
    return found


def members(organization_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(organization_id=organization_id).select_related("user")


def member(organization_id: int, membership_id: int) -> Membership:
    found = members(organization_id).filter(pk=membership_id).first()
    if found is None:
        raise NotFound("no such member")
    return found


def invitations(organization_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization_id=organization_id)


def invitation(organization_id: int, invitation_id: int) -> Invitation:
    found = invitations(organization_id).filter(pk=invitation_id).first()
    if found is None:
        raise NotFound("no such invitation")
    return found


def applications(organization_id: int) -> QuerySet[Application]:
    return Application.objects.filter(organization_id=organization_id).select_related(
        "organization"
    )


def application(organization_id: int, public_id: str) -> Application:
    found = applications(organization_id).filter(public_id=public_id).first()
    if found is None:
        raise NotFound("no such application")
    return found


def keys(application: Application) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(application=application)


def key(application: Application, key_id: str) -> ApiKey:
    found = keys(application).filter(key_id=key_id).first()
    if found is None:
        raise NotFound("no such key")
    return found


def subscriptions(application: Application) -> QuerySet[Subscription]:
    return (
        Subscription.objects.filter(application=application)
        .select_related("product", "plan")
        .prefetch_related("rate_limits", "plan__rate_limits")
    )


def subscription(application: Application, subscription_id: int) -> Subscription:
    found = subscriptions(application).filter(pk=subscription_id).first()
    if found is None:
        raise NotFound("no such subscription")
    return found


def limit_requests(subscription: Subscription) -> QuerySet[LimitRequest]:
    return LimitRequest.objects.filter(subscription=subscription)


def limit_request(subscription: Subscription, request_id: int) -> LimitRequest:
    found = limit_requests(subscription).filter(pk=request_id).first()
    if found is None:
        raise NotFound("no such limit request")
    return found


def access_tokens(user: User) -> QuerySet[AccessToken]:
    return AccessToken.objects.filter(user=user)


def access_token(user: User, token_id: str) -> AccessToken:
    found = access_tokens(user).filter(token_id=token_id).first()
    if found is None:
        raise NotFound("no such token")
    return found


# --- the catalog: what anyone signed in may browse --------------------------------------


def catalog_products() -> QuerySet[Product]:
    """Products with something to call, their public plans with limits, their APIs and the
    versions partners see: a fixed number of queries however large the catalog."""
    versions = ApiVersion.objects.filter(lifecycle__in=VISIBLE_LIFECYCLES).select_related(
        "successor", "api"
    )
    plans = Plan.objects.filter(public=True).prefetch_related(
        Prefetch("rate_limits", queryset=PlanRateLimit.objects.order_by("id"))
    )
    return (
        Product.objects.filter(apis__versions__lifecycle__in=VISIBLE_LIFECYCLES)
        .distinct()
        .select_related("organization")
        .prefetch_related(
            Prefetch("plans", queryset=plans),
            Prefetch("apis__versions", queryset=versions),
        )
        .order_by("name")
    )


def catalog_product(slug: str) -> Product:
    found = catalog_products().filter(slug=slug).first()
    if found is None:
        raise NotFound("no such product")
    return found


def public_plan(plan_slug: str) -> Plan:
    found = Plan.objects.filter(slug=plan_slug, public=True).select_related("product").first()
    if found is None:
        raise NotFound("no such plan")
    return found


def visible_version(api_slug: str, version: str) -> ApiVersion:
    found = (
        ApiVersion.objects.filter(
            api__slug=api_slug, version=version, lifecycle__in=VISIBLE_LIFECYCLES
        )
        .select_related("api", "successor")
        .first()
    )
    if found is None:
        raise NotFound("no such API version")
    return found

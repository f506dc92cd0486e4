"""Reads for the developer API and portal. Everything a partner sees is reached through
their membership of an organization: a look-up outside it finds nothing, the same answer
as for a name that does not exist."""

import hashlib
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Model, Prefetch, Q, QuerySet

from mgmt.developers import tokens
from mgmt.developers.errors import NotFound, NotPermitted
from mgmt.developers.openapi_document import OpenApiDocumentError, load_stored_document
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

Row = TypeVar("Row", bound=Model)

# Versions partners may see and call: drafts are the owner's secret, retired ones are gone.
VISIBLE_LIFECYCLES = (ApiVersion.Lifecycle.PUBLISHED, ApiVersion.Lifecycle.DEPRECATED)


def _one(rows: "QuerySet[Row]", what: str, **lookup: object) -> Row:
    """The row matching `lookup` among `rows`, or NotFound naming `what`."""
    found = rows.filter(**lookup).first()
    if found is None:
        raise NotFound(f"no such {what}")
    return found


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
    return _one(members(organization_id), "member", pk=membership_id)


def invitations(organization_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization_id=organization_id)


def invitation(organization_id: int, invitation_id: int) -> Invitation:
    return _one(invitations(organization_id), "invitation", pk=invitation_id)


def applications(organization_id: int) -> QuerySet[Application]:
    return Application.objects.filter(organization_id=organization_id).select_related(
        "organization"
    )


def application_for(
    user: User, organization_slug: str, public_id: str, action: Action = Action.READ
) -> tuple[Membership, Application]:
    """The caller's membership allowing `action`, and that organization's application."""
    found = membership(user, organization_slug, action)
    return found, application(found.organization_id, public_id)


def application(organization_id: int, public_id: str) -> Application:
    return _one(applications(organization_id), "application", public_id=public_id)


def keys(application: Application) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(application=application)


def key(application: Application, key_id: str) -> ApiKey:
    return _one(keys(application), "key", key_id=key_id)


def subscriptions(application: Application) -> QuerySet[Subscription]:
    return (
        Subscription.objects.filter(application=application)
        .select_related("product", "plan")
        .prefetch_related("rate_limits", "plan__rate_limits")
    )


def subscription(application: Application, subscription_id: int) -> Subscription:
    return _one(subscriptions(application), "subscription", pk=subscription_id)


def limit_requests(subscription: Subscription) -> QuerySet[LimitRequest]:
    return LimitRequest.objects.filter(subscription=subscription)


def limit_request(subscription: Subscription, request_id: int) -> LimitRequest:
    return _one(limit_requests(subscription), "limit request", pk=request_id)


def open_invitation(token: str) -> Invitation | None:
    """The open invitation a mailed token stands for (its link's landing page names the
    organization and role); None for a token that is unknown, used, revoked or expired."""
    found = (
        Invitation.objects.select_related("organization")
        .filter(token_hash=tokens.digest(token))
        .first()
    )
    return found if found is not None and found.is_open() else None


def access_tokens(user: User) -> QuerySet[AccessToken]:
    return AccessToken.objects.filter(user=user)


def access_token(user: User, token_id: str) -> AccessToken:
    return _one(access_tokens(user), "token", token_id=token_id)


# --- the catalog: what anyone signed in may browse --------------------------------------


def catalog_products() -> QuerySet[Product]:
    """Products with something to call, their public plans with limits, their APIs and the
    versions partners see: a fixed number of queries however large the catalog."""
    # Documents (up to 2 MiB each) stay in the database: a list says only whether there is one.
    versions = (
        ApiVersion.objects.filter(lifecycle__in=VISIBLE_LIFECYCLES)
        .select_related("successor", "api")
        .defer("openapi_document")
        .annotate(has_openapi_document=~Q(openapi_document=""))
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
    return _one(catalog_products(), "product", slug=slug)


def public_plan(plan_slug: str) -> Plan:
    # Public, and of a product in the catalog: a product of drafts is not for sale yet.
    offered = Plan.objects.filter(
        public=True, product__apis__versions__lifecycle__in=VISIBLE_LIFECYCLES
    ).distinct()
    return _one(offered.select_related("product"), "plan", slug=plan_slug)


# A parsed document is kept by its content's hash: a new upload is a new entry.
_DOCUMENT_CACHE_SECONDS = 3600


def openapi_document_of(version: ApiVersion) -> dict[str, Any]:
    """The version's OpenAPI document as a mapping, parsed once per content and cached."""
    if not version.openapi_document:
        raise NotFound("this version has no OpenAPI document")
    text = version.openapi_document
    key = "tollgate:openapi:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    document: dict[str, Any] | None = cache.get(key)
    if document is None:
        try:
            document = load_stored_document(text)
        except OpenApiDocumentError:  # stored before a stricter check; the owner must fix it
            raise NotFound("this version's OpenAPI document is being corrected") from None
        cache.set(key, document, _DOCUMENT_CACHE_SECONDS)
    return document


def visible_version(api_slug: str, version: str) -> ApiVersion:
    visible = ApiVersion.objects.filter(lifecycle__in=VISIBLE_LIFECYCLES)
    return _one(
        visible.select_related("api", "successor"),
        "API version",
        api__slug=api_slug,
        version=version,
    )

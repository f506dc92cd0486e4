"""The portal's scoped URLs and the rows they could write: shared by the page tests
that try them across tenants, with a short role, and signed out."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from mgmt.gateway.models import (
    ApiKey,
    Application,
    Invitation,
    LimitRequest,
    Membership,
    Subscription,
)
from tests.portal.conftest import Tenant


def ids_of(tenant: Tenant) -> dict[str, Any]:
    owner_membership = Membership.objects.get(user=tenant.owner, organization=tenant.organization)
    return {
        "org": tenant.organization.slug,
        "public_id": tenant.application.public_id,
        "key_id": tenant.api_key.key_id,
        "subscription_id": tenant.subscription.pk,
        "request_id": tenant.limit_request.pk,
        "member_id": owner_membership.pk,
        "invitation_id": tenant.invitation.pk,
    }


def pages_of(ids: dict[str, Any]) -> list[str]:
    """Every signed-in page of one organization, with its objects."""
    app = {"org": ids["org"], "public_id": ids["public_id"]}
    return [
        reverse("portal:dashboard"),
        reverse("portal:catalog"),
        reverse("portal:product", kwargs={"product_slug": "demo"}),
        reverse("portal:docs", kwargs={"api_slug": "demo", "version": "v2"}),
        reverse("portal:docs", kwargs={"api_slug": "demo", "version": "v1"}),
        reverse("portal:openapi-document", kwargs={"api_slug": "demo", "version": "v2"}),
        reverse("portal:applications", kwargs={"org": ids["org"]}),
        reverse("portal:application", kwargs=app),
        reverse("portal:usage", kwargs=app),
        reverse("portal:subscription", kwargs={**app, "subscription_id": ids["subscription_id"]}),
        reverse("portal:members", kwargs={"org": ids["org"]}),
    ]


@dataclass(frozen=True)
class Target:
    """One scoped URL: its name, the ids it takes, and a POST body that would write."""

    name: str
    uses: tuple[str, ...]
    method: str = "POST"
    body: Callable[[dict[str, Any]], dict[str, str]] = field(default=lambda ids: {})

    def url(self, ids: dict[str, Any]) -> str:
        return reverse(f"portal:{self.name}", kwargs={k: ids[k] for k in self.uses})


APP = ("org", "public_id")
SUB = (*APP, "subscription_id")
TARGETS = [
    Target("applications", ("org",), body=lambda ids: {"name": "Intruder app"}),
    Target("application", APP, "GET"),
    Target("usage", APP, "GET"),
    Target("edit-application", APP, body=lambda ids: {"name": "Hacked"}),
    Target("delete-application", APP, body=lambda ids: {"confirm": "on"}),
    Target("create-key", APP, body=lambda ids: {"label": "intruder"}),
    Target(
        "rotate-key",
        (*APP, "key_id"),
        body=lambda ids: {f"rotate-{ids['key_id']}-overlap_seconds": "0"},
    ),
    Target("revoke-key", (*APP, "key_id")),
    Target("subscription", SUB, "GET"),
    Target("cancel-subscription", SUB),
    Target(
        "request-limits",
        SUB,
        body=lambda ids: {
            "window_0_requests": "999",
            "window_0_unit": "second",
            "window_0_unit_multiplier": "1",
            "reason": "more",
        },
    ),
    Target("withdraw-limit-request", (*SUB, "request_id")),
    Target("members", ("org",), "GET"),
    Target("invite", ("org",), body=lambda ids: {"email": "mallory@example.com", "role": "owner"}),
    Target(
        "change-role",
        ("org", "member_id"),
        body=lambda ids: {f"member-{ids['member_id']}-role": "billing"},
    ),
    Target("remove-member", ("org", "member_id")),
    Target("revoke-invitation", ("org", "invitation_id")),
]
WRITES = [target for target in TARGETS if target.method == "POST"]


def world() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a portal write could touch, to compare before and after."""
    return {
        "applications": list(
            Application.objects.values_list("pk", "name", "description", "organization_id")
        ),
        "keys": list(ApiKey.objects.values_list("pk", "revoked_at", "expires_at")),
        "subscriptions": list(Subscription.objects.values_list("pk", "state")),
        "limit_requests": list(LimitRequest.objects.values_list("pk", "state")),
        "memberships": list(Membership.objects.values_list("pk", "organization_id", "role")),
        "invitations": list(Invitation.objects.values_list("pk", "revoked_at")),
    }

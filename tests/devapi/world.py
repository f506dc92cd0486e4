"""Two tenants for the developer API tests: alice's organization and bob's, each with an
application, a key, a subscription, a limit request, an invitation and a second member;
and a catalog with a free plan, an approval plan and a private plan."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from mgmt.developers import access, accounts
from mgmt.gateway.models import (
    ApiKey,
    ApiVersion,
    Application,
    Invitation,
    LimitRequest,
    Membership,
    Organization,
    Plan,
    Role,
    Subscription,
)
from tests.mgmt import factories

PASSWORD = "a long partner passphrase"


@dataclass
class Tenant:
    user: User
    organization: Organization
    application: Application
    key: ApiKey
    subscription: Subscription
    limit_request: LimitRequest
    invitation: Invitation
    teammate: Membership
    client: APIClient

    @property
    def org(self) -> str:
        return self.organization.slug

    @property
    def app(self) -> str:
        return f"/api/v1/orgs/{self.org}/applications/{self.application.public_id}"

    @property
    def sub(self) -> str:
        return f"{self.app}/subscriptions/{self.subscription.pk}"


@dataclass
class World:
    alice: Tenant
    bob: Tenant
    free: Plan
    approval: Plan
    private: Plan
    version: ApiVersion


def verified_user(email: str, organization_name: str) -> tuple[User, Organization]:
    signed = accounts.sign_up(email=email, password=PASSWORD, organization_name=organization_name)
    accounts.verify_email(token=accounts.verification_token(signed.user))
    assert signed.organization is not None
    return signed.user, signed.organization


def token_client(user: User) -> APIClient:
    client = APIClient()
    issued = accounts.create_access_token(user=user, label="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


def member(organization: Organization, email: str, role: str) -> tuple[User, Membership]:
    user = User.objects.create_user(username=email, email=email, password=PASSWORD)
    accounts.DeveloperAccount.objects.create(user=user, email_verified_at=user.date_joined)
    return user, Membership.objects.create(user=user, organization=organization, role=role)


def tenant(name: str, free: Plan) -> Tenant:
    user, organization = verified_user(f"{name}@example.com", f"{name.title()} Corp")
    application = access.create_application(organization=organization, name=f"{name} app")
    key = access.issue_key(application=application, label=f"{name} key").api_key
    subscription = access.subscribe(application=application, plan=free)
    limit_request = access.request_limits(
        subscription=subscription,
        by=user,
        windows=[{"requests": 50, "unit": "second"}],
        quota_requests=None,
        reason="launch",
    )
    invitation = accounts.invite(
        organization=organization, by=user, email=f"{name}-new@example.com", role=Role.DEVELOPER
    ).invitation
    _, teammate = member(organization, f"{name}-dev@example.com", Role.DEVELOPER)
    return Tenant(
        user,
        organization,
        application,
        key,
        subscription,
        limit_request,
        invitation,
        teammate,
        token_client(user),
    )


def build_world() -> World:
    version = factories.api_version(openapi_document=OPENAPI)
    product = version.api.product
    free = factories.plan(product=product, slug="free-tier", public=True)
    approval = factories.plan(product=product, slug="gold", public=True, requires_approval=True)
    private = factories.plan(product=product, slug="secret-deal", public=False)
    return World(tenant("alice", free), tenant("bob", free), free, approval, private, version)


def problem(response: Any) -> dict[str, Any]:
    """The problem+json body of a refusal, checking that it is one."""
    assert response["Content-Type"] == "application/problem+json", response.content
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("https://tollgate.dev/problems/")
    return body


OPENAPI = """openapi: 3.0.3
info: {title: Widgets, version: "1"}
paths:
  /widgets:
    get:
      responses: {"200": {description: the widgets}}
"""

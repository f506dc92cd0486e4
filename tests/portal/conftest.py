"""Two tenants for the portal's page tests: Alice's organization and Bob's, each with an
application, a key, a subscription with a pending limit request, and an open invitation;
Alice's also has Carol (billing) and Dan (developer). Plus a catalog like the demo's."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.test import Client

from mgmt.developers import access, accounts
from mgmt.embedded.demo_data import DEMO_OPENAPI
from mgmt.gateway.models import (
    ApiKey,
    ApiVersion,
    Application,
    Invitation,
    LimitRequest,
    Membership,
    Organization,
    Plan,
    Product,
    Role,
    Subscription,
)
from tests.mgmt import factories

PASSWORD = "a long partner passphrase"


@pytest.fixture(autouse=True)
def _quiet_portal(settings: Any) -> Iterator[None]:
    # These tests look at pages, not snapshots: no compile after every commit.
    settings.TOLLGATE_AUTO_PUBLISH = False
    # Every test signs several people up: a slow password hash would be most of its time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Attempt budgets live in the process-wide cache: each test starts with full ones.
    cache.clear()
    yield
    cache.clear()


@dataclass
class Catalog:
    product: Product
    free: Plan
    pro: Plan
    version: ApiVersion
    old_version: ApiVersion


@dataclass
class Tenant:
    owner: User
    organization: Organization
    application: Application
    api_key: ApiKey
    subscription: Subscription
    limit_request: LimitRequest
    invitation: Invitation


def verified_user(email: str, organization_name: str) -> User:
    user = accounts.sign_up(
        email=email,
        password=PASSWORD,
        name=email.split("@", maxsplit=1)[0].title(),
        organization_name=organization_name,
    ).user
    accounts.verify_email(token=accounts.verification_token(user))
    return user


@pytest.fixture
def catalog() -> Catalog:
    owner = factories.organization(name="Acme APIs", slug="acme")
    product = factories.product(organization=owner, name="Demo", slug="demo")
    api = factories.api(product=product, name="Demo API", slug="demo", base_path="/demo")
    version = factories.api_version(api=api, version="v2", openapi_document=DEMO_OPENAPI)
    old_version = factories.api_version(
        api=api,
        version="v1",
        lifecycle=ApiVersion.Lifecycle.DEPRECATED,
        deprecated_at="2030-01-01T00:00:00Z",
        sunset_at="2030-07-01T00:00:00Z",
        successor=version,
    )
    factories.api_version(api=api, version="v3-draft", lifecycle=ApiVersion.Lifecycle.DRAFT)
    free = factories.plan(product=product, name="Free", slug="free", quota_requests=10_000)
    factories.plan_rate_limit(plan=free, requests=10, unit="second")
    pro = factories.plan(product=product, name="Pro", slug="pro", requires_approval=True)
    factories.plan_rate_limit(plan=pro, requests=100, unit="second")
    return Catalog(product, free, pro, version, old_version)


def _tenant(name: str, catalog: Catalog) -> Tenant:
    owner = verified_user(f"{name.lower()}@example.com", f"{name} Corp")
    organization = Membership.objects.get(user=owner).organization
    application = access.create_application(organization=organization, name=f"{name} Checkout")
    api_key = access.issue_key(application=application, label=f"{name} prod").api_key
    subscription = access.subscribe(application=application, plan=catalog.free)
    limit_request = access.request_limits(
        subscription=subscription,
        by=owner,
        windows=[{"requests": 50, "unit": "second", "unit_multiplier": 1}],
        quota_requests=None,
        reason=f"{name} launches",
    )
    invitation = accounts.invite(
        organization=organization,
        by=owner,
        email=f"{name.lower()}-friend@example.com",
        role=Role.DEVELOPER,
    ).invitation
    return Tenant(
        owner, organization, application, api_key, subscription, limit_request, invitation
    )


@pytest.fixture
def alice(catalog: Catalog) -> Tenant:
    return _tenant("Alice", catalog)


@pytest.fixture
def bob(catalog: Catalog) -> Tenant:
    return _tenant("Bob", catalog)


def member_of(tenant: Tenant, email: str, role: str) -> User:
    """A verified user who joined the tenant's organization with `role` by invitation."""
    user = verified_user(email, f"{email} own org")
    token = accounts.invite(
        organization=tenant.organization, by=tenant.owner, email=email, role=role
    ).token
    accounts.accept_invitation(user=user, token=token)
    return user


@pytest.fixture
def carol(alice: Tenant) -> User:
    return member_of(alice, "carol@example.com", Role.BILLING)


@pytest.fixture
def dan(alice: Tenant) -> User:
    return member_of(alice, "dan@example.com", Role.DEVELOPER)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def mailed_code(to: str, page: str) -> str:
    """The code of the last mail to `to` whose link opens `page`: the link carries it in
    its fragment, and the mail spells it out for pasting too."""
    (message,) = [m for m in mail.outbox if m.to == [to] and f"{page}#" in m.body][-1:]
    link = re.search(rf"https?://[^/\s]+{re.escape(page)}#(\S+)", message.body)
    assert link is not None, message.body
    assert f"enter this code:\n\n{link.group(1)}\n" in message.body
    return link.group(1)

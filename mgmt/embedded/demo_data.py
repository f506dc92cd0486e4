"""The demo a new user sees on `make run`: idempotent, so a second run reuses it."""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from mgmt.billing.models import PlanPrice, PriceTier
from mgmt.gateway import services
from mgmt.gateway.models import (
    Api,
    ApiVersion,
    Application,
    DeveloperAccount,
    Endpoint,
    Membership,
    Organization,
    Plan,
    PlanRateLimit,
    Product,
    Role,
    Route,
    Subscription,
    Upstream,
)

# The portal's demo user (its password is the admin's: TOLLGATE_ADMIN_PASSWORD, first run).
DEMO_PARTNER_EMAIL = "partner@example.com"
# Where the demo organizations' mail goes (the file backend keeps it under var/mail): the
# partner's lifecycle notices, and the API owner's limit requests.
DEMO_PARTNER_CONTACT = DEMO_PARTNER_EMAIL
DEMO_OWNER_CONTACT = "api-owners@example.com"

# What the portal shows for the demo API: the demo upstream echoes any path.
DEMO_OPENAPI = """openapi: 3.1.0
info:
  title: Demo API
  version: v1
  description: Echoes the request it receives, with the identity headers the gateway adds.
servers:
  - url: http://127.0.0.1:10000/demo
paths:
  /hello:
    get:
      summary: Say hello
      description: Answers with the method, path and headers the upstream received.
      security: [{apiKey: []}]
      responses:
        "200":
          description: What the upstream saw.
          content:
            application/json:
              schema:
                type: object
                properties:
                  path: {type: string}
                  headers: {type: object, additionalProperties: {type: string}}
        "401": {description: "No key, or a key that is not valid (problem+json)."}
        "429": {description: "Over a rate limit (problem+json, with Retry-After)."}
components:
  securitySchemes:
    apiKey: {type: apiKey, in: header, name: x-api-key}
"""


@dataclass(frozen=True, slots=True)
class Demo:
    api_key: str
    admin_user: str
    admin_password: str


def _demo_key(key_file: Path, application: Application) -> str:
    """The demo key's secret is kept in a 0600 file so `make run` can print a working curl twice.

    Only the demo does this; real keys are shown once and exist nowhere but the hash.
    """
    if key_file.exists():
        secret = key_file.read_text().strip()
        if application.keys.filter(key_id=secret[3:15], revoked_at__isnull=True).exists():
            return secret
    issued = services.create_api_key(application=application, label="demo")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(issued.secret + "\n")
    return issued.secret


@transaction.atomic
def seed_demo(
    *, upstream_port: int, key_file: Path, admin_password: str, rate_limited: bool = True
) -> Demo:
    """The demo catalog. `rate_limited`: the free plan allows 10 calls a second and
    10,000 a day (end-to-end tests that send bursts with the demo key turn it off)."""
    owner = _organization("acme", "Acme APIs", DEMO_OWNER_CONTACT)
    partner = _organization("demo-partner", "Demo Partner", DEMO_PARTNER_CONTACT)
    product, _ = Product.objects.get_or_create(
        slug="demo", defaults={"name": "Demo", "organization": owner}
    )
    upstream, _ = Upstream.objects.get_or_create(name="demo", defaults={"organization": owner})
    endpoint = upstream.endpoints.first()
    if endpoint is None:
        Endpoint.objects.create(upstream=upstream, host="127.0.0.1", port=upstream_port)
    elif endpoint.port != upstream_port:
        endpoint.port = upstream_port
        endpoint.save()
    api, _ = Api.objects.get_or_create(
        slug="demo",
        defaults={
            "name": "Demo API",
            "organization": owner,
            "product": product,
            "base_path": "/demo",
        },
    )
    version, _ = ApiVersion.objects.get_or_create(
        api=api, version="v1", defaults={"lifecycle": ApiVersion.Lifecycle.PUBLISHED}
    )
    if not version.routes.exists():
        Route.objects.create(api_version=version, path="/", upstream=upstream)
    if not version.openapi_document:
        version.openapi_document = DEMO_OPENAPI
        version.save(update_fields=["openapi_document"])
    plan, _ = Plan.objects.get_or_create(
        slug="free",
        defaults={
            "name": "Free",
            "product": product,
            "description": "Try the demo: subscribed at once.",
        },
    )
    pro, created = Plan.objects.get_or_create(
        slug="pro",
        defaults={
            "name": "Pro",
            "product": product,
            "requires_approval": True,
            "description": "More calls; an Acme API owner approves each subscription in admin.",
        },
    )
    if created:
        PlanRateLimit.objects.create(plan=pro, requests=100, unit="second")
    _demo_prices(pro)
    if rate_limited and not plan.rate_limits.exists():
        PlanRateLimit.objects.create(plan=plan, requests=10, unit="second")
        PlanRateLimit.objects.create(plan=plan, requests=10_000, unit="day")
    application, _ = Application.objects.get_or_create(organization=partner, name="Demo app")
    Subscription.objects.get_or_create(
        application=application,
        product=product,
        state=Subscription.State.ACTIVE,
        defaults={"plan": plan},
    )
    user_model = get_user_model()
    if not user_model.objects.filter(username="admin").exists():
        user_model.objects.create_superuser("admin", "admin@example.com", admin_password)
    _demo_partner(partner, admin_password)
    return Demo(_demo_key(key_file, application), "admin", admin_password)


def _demo_prices(pro: Plan) -> None:
    """Pro has a fee, a million calls included, then graduated tiers (Free stays unpriced:
    its calls are not metered). Seeded once: a price in force is kept."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    if not pro.prices.exists():
        price = PlanPrice.objects.create(
            plan=pro,
            valid_from=since,
            currency="EUR",
            fee=Decimal("49.00"),
            included_units=1_000_000,
            model="graduated",
        )
        PriceTier.objects.create(price=price, up_to=9_000_000, unit_price=Decimal("0.00005"))
        PriceTier.objects.create(price=price, up_to=None, unit_price=Decimal("0.00002"))


def _organization(slug: str, name: str, contact: str) -> Organization:
    """A demo organization with a contact address; one seeded before it had one gets it,
    one whose address someone set keeps theirs."""
    organization, _ = Organization.objects.get_or_create(
        slug=slug, defaults={"name": name, "contact_email": contact}
    )
    if not organization.contact_email:
        organization.contact_email = contact
        organization.save(update_fields=["contact_email"])
    return organization


def _demo_partner(partner: Organization, password: str) -> None:
    """A verified portal user owning Demo Partner, so the portal can be tried at once."""
    user, created = User.objects.get_or_create(
        username=DEMO_PARTNER_EMAIL, defaults={"email": DEMO_PARTNER_EMAIL, "first_name": "Demo"}
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    DeveloperAccount.objects.get_or_create(
        user=user, defaults={"email_verified_at": timezone.now()}
    )
    Membership.objects.get_or_create(user=user, organization=partner, defaults={"role": Role.OWNER})

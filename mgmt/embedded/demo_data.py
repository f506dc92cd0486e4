"""The demo a new user sees on `make run`: idempotent, so a second run reuses it."""

import os
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from mgmt.gateway import services
from mgmt.gateway.models import (
    Api,
    ApiVersion,
    Application,
    Endpoint,
    Organization,
    Plan,
    PlanRateLimit,
    Product,
    Route,
    Subscription,
    Upstream,
)


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
    owner, _ = Organization.objects.get_or_create(slug="acme", defaults={"name": "Acme APIs"})
    partner, _ = Organization.objects.get_or_create(
        slug="demo-partner", defaults={"name": "Demo Partner"}
    )
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
    plan, _ = Plan.objects.get_or_create(slug="free", defaults={"name": "Free", "product": product})
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
    return Demo(_demo_key(key_file, application), "admin", admin_password)

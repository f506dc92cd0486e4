"""A sealing key of the test's own (signing keys are sealed with it), and a partner
application subscribed to a product whose routes require scopes."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mgmt.gateway.models import Application, Subscription
from mgmt.oauth import services
from tests.devapi.world import World, build_world
from tests.mgmt import factories
from xds_server import sealing


@pytest.fixture(autouse=True)
def sealing_key_file(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "secrets.key"
    path.write_text(sealing.new_key_text())
    settings.TOLLGATE_SECRETS_KEY_FILE = path
    return path


@dataclass
class Partner:
    application: Application
    subscription: Subscription
    client_id: str
    secret: str


@pytest.fixture
def partner(db: None) -> Partner:
    """Subscribed (active) on a plan granting `orders:read`, `orders:write` and
    `stock:read`; the routes also require `admin`, which that plan does not grant (another
    plan, not the partner's, does)."""
    version = factories.api_version()
    product = version.api.product
    factories.route(api_version=version, path="/orders", required_scopes="orders:read admin")
    factories.plan(product=product, slug="admins", granted_scopes="admin")
    plan = factories.plan(
        product=product, slug="partners", granted_scopes="orders:read orders:write stock:read"
    )
    subscription = factories.subscription(plan=plan)
    issued = services.create_client(application=subscription.application)
    return Partner(
        subscription.application, subscription, issued.client.client_id, issued.secret.secret
    )


@pytest.fixture
def world(db: None, settings: Any) -> World:
    """The developer API's two tenants, alice and bob (tests.devapi.world)."""
    # PBKDF2's deliberate slowness is for attackers; the world hashes a dozen passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return build_world()

"""The OAuth client section of the portal's application page: create, rotate, revoke;
the secret shown once, never cached; another tenant reaches nothing."""

import re

import pytest
from django.test import Client

from mgmt.oauth.models import OAuthClient, OAuthClientSecret
from tests.devapi.world import Tenant, World

pytestmark = pytest.mark.db


def page_of(tenant: Tenant) -> str:
    return f"/portal/orgs/{tenant.org}/applications/{tenant.application.public_id}"


def signed_in(tenant: Tenant) -> Client:
    client = Client()
    client.force_login(tenant.user)
    return client


def shown_secret(html: str) -> str:
    found = re.search(r'id="secret" class="secret" type="text" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def token_status(client_id: str, secret: str) -> int:
    response = Client().post(
        "/oauth/token",
        f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}",
        content_type="application/x-www-form-urlencoded",
    )
    return int(response.status_code)


def test_creating_a_client_shows_its_secret_once_and_the_page_its_prefix(world: World) -> None:
    browser = signed_in(world.alice)
    page = browser.get(page_of(world.alice)).content.decode()
    assert "No OAuth client yet." in page
    created = browser.post(f"{page_of(world.alice)}/oauth-client")
    assert created.status_code == 201
    assert "no-store" in created["Cache-Control"]
    secret = shown_secret(created.content.decode())
    client = OAuthClient.objects.get(application=world.alice.application)
    assert client.client_id in created.content.decode()
    assert token_status(client.client_id, secret) == 200
    page = browser.get(page_of(world.alice)).content.decode()
    row = OAuthClientSecret.objects.get()
    assert client.client_id in page
    assert f"tgcs_{row.secret_id}_" in page
    assert secret not in page


def test_rotating_and_revoking_from_the_page(world: World) -> None:
    browser = signed_in(world.alice)
    first = shown_secret(browser.post(f"{page_of(world.alice)}/oauth-client").content.decode())
    client = OAuthClient.objects.get()
    old = OAuthClientSecret.objects.get()
    rotated = browser.post(
        f"{page_of(world.alice)}/oauth-client/secrets/{old.secret_id}/rotate",
        {"overlap_seconds": "0"},
    )
    assert rotated.status_code == 201
    second = shown_secret(rotated.content.decode())
    assert token_status(client.client_id, first) == 400
    assert token_status(client.client_id, second) == 200
    new = OAuthClientSecret.objects.exclude(pk=old.pk).get()
    revoked = browser.post(f"{page_of(world.alice)}/oauth-client/secrets/{new.secret_id}/revoke")
    assert revoked.status_code == 302
    assert token_status(client.client_id, second) == 400
    assert browser.post(f"{page_of(world.alice)}/oauth-client/revoke").status_code == 302
    client.refresh_from_db()
    assert client.revoked_at is not None
    assert "No OAuth client yet." in browser.get(page_of(world.alice)).content.decode()


def test_another_tenant_reaches_nothing(world: World) -> None:
    signed_in(world.alice).post(f"{page_of(world.alice)}/oauth-client")
    secret = OAuthClientSecret.objects.get()
    bob = signed_in(world.bob)
    for url in (
        f"{page_of(world.alice)}/oauth-client",
        f"{page_of(world.alice)}/oauth-client/revoke",
        f"{page_of(world.alice)}/oauth-client/secrets/{secret.secret_id}/revoke",
        f"{page_of(world.alice)}/oauth-client/secrets/{secret.secret_id}/rotate",
    ):
        assert bob.post(url, {"overlap_seconds": "0"}).status_code == 404
    secret.refresh_from_db()
    assert secret.revoked_at is None and secret.expires_at is None
    assert OAuthClient.objects.get().revoked_at is None

"""Admin: clients, secrets and signing keys are shown read-only, never a hash or a private
key; operators rotate the signing key with an action."""

from typing import Any

import pytest
from django.test import Client

from mgmt.oauth import signing_keys
from mgmt.oauth.models import OAuthClient, OAuthClientSecret, SigningKey
from tests.oauth.conftest import Partner

pytestmark = pytest.mark.db


def test_a_client_page_shows_its_secrets_by_id_never_their_hash(
    admin_client: Client, partner: Partner
) -> None:
    client = OAuthClient.objects.get()
    secret = OAuthClientSecret.objects.get()
    listing = admin_client.get("/admin/oauth/oauthclient/").content.decode()
    assert partner.client_id in listing
    page = admin_client.get(f"/admin/oauth/oauthclient/{client.pk}/change/").content.decode()
    assert secret.secret_id in page
    assert bytes(secret.secret_hash).hex() not in page
    assert "secret_hash" not in page
    assert partner.secret not in page


def test_signing_keys_show_no_private_key_and_rotate_by_action(
    admin_client: Client, db: None, settings: Any
) -> None:
    first = signing_keys.rotate()
    assert first is not None
    page = admin_client.get(f"/admin/oauth/signingkey/{first.pk}/change/").content.decode()
    assert first.kid in page
    assert "sealed_private_key" not in page
    assert bytes(first.sealed_private_key).hex() not in page
    response = admin_client.post(
        "/admin/oauth/signingkey/",
        {"action": "rotate_now", "_selected_action": [str(first.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert SigningKey.objects.count() == 2
    new = SigningKey.objects.exclude(pk=first.pk).get()
    first.refresh_from_db()
    assert first.retired_at == new.signs_from
    assert f"Key {new.kid} is published now" in response.content.decode()

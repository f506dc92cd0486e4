"""The signing key schedule on the database: the beat task, the JWKS and metadata
documents, the compiler's rows, the sealed private keys and the publications."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from mgmt.gateway import publishing
from mgmt.oauth import selectors, services, signing_keys
from mgmt.oauth.models import OAuthClient, SigningKey
from mgmt.oauth.tasks import rotate_signing_keys
from tests.oauth.conftest import Partner
from tests.oauth.jwt_check import header_of, verified_claims
from xds_server import sealing

pytestmark = pytest.mark.db


def kids_in(document: str) -> list[str]:
    return [key["kid"] for key in json.loads(document)["keys"]]


def token_for(client: Client, partner: Partner) -> str:
    response = client.post(
        "/oauth/token",
        f"grant_type=client_credentials&client_id={partner.client_id}"
        f"&client_secret={partner.secret}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def test_the_task_makes_the_first_key_and_is_harmless_twice(db: None) -> None:
    first = rotate_signing_keys()
    assert first["created"] == SigningKey.objects.get().kid
    assert rotate_signing_keys() == {"created": None, "dropped": []}
    assert SigningKey.objects.count() == 1


def test_the_private_key_is_sealed_under_its_kid(db: None, sealing_key_file: Any) -> None:
    signing_keys.rotate()
    key = SigningKey.objects.get()
    stored = bytes(key.sealed_private_key)
    assert sealing.is_sealed(stored)
    secret = sealing.parse_key(sealing_key_file.read_text())
    assert sealing.open_sealed(secret, f"oauth/{key.kid}", stored)
    with pytest.raises(sealing.SealingError):
        sealing.open_sealed(secret, "oauth/another-kid", stored)


def test_a_rotation_publishes_the_new_key_before_it_signs(
    client: Client, partner: Partner, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_token = token_for(client, partner)
    old = SigningKey.objects.get()
    rotation_time = old.created_at + timedelta(days=settings.TOLLGATE_OAUTH_KEY_ROTATION_DAYS)
    monkeypatch.setattr(timezone, "now", lambda: rotation_time - timedelta(seconds=1))
    assert rotate_signing_keys()["created"] is None
    monkeypatch.setattr(timezone, "now", lambda: rotation_time)
    new_kid = rotate_signing_keys()["created"]
    assert new_kid is not None and new_kid != old.kid
    new = SigningKey.objects.get(kid=new_kid)
    delay = timedelta(seconds=settings.TOLLGATE_OAUTH_KEY_PUBLISH_SECONDS)
    assert new.signs_from == rotation_time + delay
    # Published at once, beside the old key; the old key still signs.
    assert sorted(kids_in(signing_keys.jwks_json(rotation_time))) == sorted([old.kid, new_kid])
    assert header_of(token_for(client, partner))["kid"] == old.kid
    # Once the delay is over, the new key signs and the old one is retired.
    after = rotation_time + delay
    monkeypatch.setattr(timezone, "now", lambda: after)
    new_token = token_for(client, partner)
    assert header_of(new_token)["kid"] == new_kid
    verified_claims(new_token, dict(new.public_jwk))
    old.refresh_from_db()
    assert old.retired_at == after
    # The old key's tokens may live on: it stays published until the last has expired.
    last_expiry = after + signing_keys.token_lifetime() + signing_keys.LEEWAY
    monkeypatch.setattr(timezone, "now", lambda: last_expiry - timedelta(seconds=1))
    assert rotate_signing_keys()["dropped"] == []
    assert old.kid in kids_in(signing_keys.jwks_json(last_expiry - timedelta(seconds=1)))
    verified_claims(old_token, dict(old.public_jwk))
    monkeypatch.setattr(timezone, "now", lambda: last_expiry)
    assert rotate_signing_keys()["dropped"] == [old.kid]
    assert kids_in(signing_keys.jwks_json(last_expiry)) == [new_kid]


def test_forced_rotation_makes_a_new_key_even_when_none_is_due(db: None) -> None:
    first = signing_keys.rotate()
    assert first is not None
    assert signing_keys.rotate() is None
    second = signing_keys.rotate(force=True)
    assert second is not None and second.kid != first.kid


def test_jwks_document_holds_the_published_public_keys_only(client: Client, db: None) -> None:
    # An anonymous GET makes no key (it would change every gateway's configuration).
    empty = client.get("/oauth/jwks.json")
    assert json.loads(empty.content) == {"keys": []}
    assert not SigningKey.objects.exists()
    signing_keys.ensure_key()
    response = client.get("/oauth/jwks.json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=60"
    key = SigningKey.objects.get()
    keys = json.loads(response.content)["keys"]
    assert keys == [key.public_jwk]
    assert set(keys[0]) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert client.post("/oauth/jwks.json").status_code == 405


def test_metadata_names_what_the_server_does(client: Client, settings: Any, db: None) -> None:
    settings.TOLLGATE_PUBLIC_URL = "https://mgmt.example"
    settings.TOLLGATE_OAUTH_ISSUER = "https://mgmt.example/oauth"
    for url in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/oauth",
    ):
        document = client.get(url).json()
        assert document == {
            "issuer": "https://mgmt.example/oauth",
            "token_endpoint": "https://mgmt.example/oauth/token",
            "jwks_uri": "https://mgmt.example/oauth/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }


def test_issuer_row_is_none_before_any_key_then_carries_the_jwks(db: None, settings: Any) -> None:
    now = timezone.now()
    assert selectors.issuer_row(now) is None
    signing_keys.rotate(now=now)
    second = signing_keys.rotate(now=now, force=True)
    assert second is not None
    row = selectors.issuer_row(now)
    assert row is not None
    assert row.name == "tollgate"
    assert row.issuer == settings.TOLLGATE_OAUTH_ISSUER
    assert row.audiences == (settings.TOLLGATE_OAUTH_AUDIENCE,)
    assert row.algorithms == ("ES256",)
    assert row.client_claims == ("client_id",)
    assert row.every_api and row.leeway_seconds == 60
    assert kids_in(row.jwks_json) == sorted(SigningKey.objects.values_list("kid", flat=True))
    assert row.jwks_json == signing_keys.jwks_json(now)
    assert " " not in row.jwks_json


def test_client_rows_name_every_client_and_its_revocation(partner: Partner, settings: Any) -> None:
    client = OAuthClient.objects.get(client_id=partner.client_id)
    assert selectors.client_rows() == (
        selectors.TokenClientRow(
            issuer=settings.TOLLGATE_OAUTH_ISSUER,
            client_id=partner.client_id,
            application_id=partner.application.pk,
            revoked_at=0,
        ),
    )
    services.revoke_client(client=client)
    client.refresh_from_db()
    assert client.revoked_at is not None
    (row,) = selectors.client_rows()
    assert row.revoked_at == int(client.revoked_at.timestamp())


def test_key_and_client_changes_publish_a_snapshot(
    partner: Partner, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TOLLGATE_AUTO_PUBLISH = True
    queued: list[str] = []
    monkeypatch.setattr(publishing, "publish_on_commit", lambda: queued.append("publish"))
    signing_keys.rotate()
    assert queued == ["publish"]
    services.revoke_client(client=OAuthClient.objects.get())
    assert len(queued) == 2
    services.issue_secret(client=services.create_client(application=partner.application).client)
    assert len(queued) == 3  # the new client; its secrets publish nothing
    settings.TOLLGATE_AUTO_PUBLISH = False
    signing_keys.rotate(force=True)
    assert len(queued) == 3

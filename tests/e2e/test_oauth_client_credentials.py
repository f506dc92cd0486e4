"""Tollgate as its partners' OAuth2 authorization server, end to end: a token from
/oauth/token (client credentials) calls the API through the real Envoy as the application,
with the same identity headers as its key; a signing key rotation keeps old tokens valid
and signs new ones with the new key; a revoked client is refused within 2 s."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from django.test import override_settings

from mgmt.gateway.models import ApiKey
from mgmt.oauth import services, signing_keys
from mgmt.oauth.models import OAuthClient
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import Reply, request
from tests.e2e.scenario import Scenario


def _token(mgmt_url: str, client_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(secret)}".encode()
    ).decode()
    call = urllib.request.Request(
        f"{mgmt_url}/oauth/token",
        data=b"grant_type=client_credentials",
        headers={
            "authorization": f"Basic {basic}",
            "content-type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _kid(token: str) -> str:
    head = token.split(".", maxsplit=1)[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def _call(gateway: Gateway, token: str) -> Reply:
    return request(gateway.ports.gateway, "/demo/orders", {"authorization": f"Bearer {token}"})


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_client_credentials_call_through_envoy_as_the_application_and_survive_key_rotation(
    gateway: Gateway, scenario: Scenario
) -> None:
    application = ApiKey.objects.get(key_id=scenario.demo_key[3:15]).application
    issued = services.create_client(application=application)
    client_id, secret = issued.client.client_id, issued.secret.secret

    status, body = _token(gateway.mgmt_url, client_id, secret)
    assert status == 200, body
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 600)
    first = body["access_token"]
    took = wait_until(
        lambda: _call(gateway, first).status == 200, 5, "a Tollgate token is accepted"
    )
    print(f"\nfirst token issued -> accepted at the gateway: {took:.2f}s")

    # The same identity upstream as the application's key; the token itself goes no further.
    by_token = _call(gateway, first).json()["headers"]
    by_key = request(
        gateway.ports.gateway, "/demo/orders", {"x-api-key": scenario.demo_key}
    ).json()["headers"]
    for name in ("x-consumer-id", "x-application-id", "x-plan"):
        assert by_token[name] == by_key[name], name
    assert "authorization" not in by_token

    # A wrong secret gets no token (RFC 6749 §5.2).
    status, body = _token(gateway.mgmt_url, client_id, secret + "x")
    assert (status, body["error"]) == (401, "invalid_client")

    # Rotation: the new key is published at once and signs at once here (60 s ahead by
    # default, so gateways hold it first); the old one stays published for its tokens.
    with override_settings(TOLLGATE_OAUTH_KEY_PUBLISH_SECONDS=0):
        signing_keys.rotate(force=True)
    status, body = _token(gateway.mgmt_url, client_id, secret)
    assert status == 200, body
    second = body["access_token"]
    assert _kid(second) != _kid(first)
    took = wait_until(
        lambda: _call(gateway, second).status == 200, 5, "a token of the new key is accepted"
    )
    print(f"signing key rotated -> new tokens accepted: {took:.2f}s")
    assert _call(gateway, first).status == 200

    services.revoke_client(client=OAuthClient.objects.get(client_id=client_id))
    took = wait_until(
        lambda: _call(gateway, second).status == 401, 2, "a revoked client's token is refused"
    )
    print(f"client revoked -> its tokens refused: {took:.2f}s")
    assert _call(gateway, first).json()["type"].endswith("/revoked-credentials")
    status, body = _token(gateway.mgmt_url, client_id, secret)
    assert (status, body["error"]) == (401, "invalid_client")

"""POST /oauth/token: the client credentials grant and every RFC 6749 §5.2 error, on the
real database."""

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest
from django.test import Client
from django.utils import timezone

from mgmt.gateway.models import Subscription
from mgmt.oauth import services
from mgmt.oauth.models import OAuthClient, OAuthClientSecret, SigningKey
from tests.oauth.conftest import Partner
from tests.oauth.jwt_check import header_of, verified_claims

pytestmark = pytest.mark.db

FORM = "application/x-www-form-urlencoded"
URL = "/oauth/token"


def post(client: Client, body: str, **headers: Any) -> Any:
    return client.post(URL, body, content_type=FORM, **headers)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}


def body_auth(partner: Partner, extra: str = "") -> str:
    return (
        f"grant_type=client_credentials&client_id={partner.client_id}"
        f"&client_secret={quote_plus(partner.secret)}{extra}"
    )


def assert_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def the_jwk() -> dict[str, str]:
    return dict(SigningKey.objects.get().public_jwk)


def test_basic_authentication_gets_a_signed_token_with_every_allowed_scope(
    client: Client, partner: Partner, settings: Any
) -> None:
    response = post(
        client, "grant_type=client_credentials", **basic(partner.client_id, partner.secret)
    )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.TOLLGATE_OAUTH_TOKEN_SECONDS
    assert body["scope"] == "orders:read orders:write stock:read"
    token = body["access_token"]
    key = SigningKey.objects.get()
    assert header_of(token) == {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    claims = verified_claims(token, the_jwk())
    assert claims["iss"] == settings.TOLLGATE_OAUTH_ISSUER
    assert claims["aud"] == settings.TOLLGATE_OAUTH_AUDIENCE
    assert claims["sub"] == claims["client_id"] == partner.client_id
    assert claims["scope"] == body["scope"]
    assert claims["exp"] - claims["iat"] == settings.TOLLGATE_OAUTH_TOKEN_SECONDS
    assert abs(claims["iat"] - timezone.now().timestamp()) < 5


def test_body_authentication_works_too(client: Client, partner: Partner) -> None:
    response = post(client, body_auth(partner))
    assert response.status_code == 200, response.content


def test_basic_credentials_are_form_urlencoded_before_base64(
    client: Client, partner: Partner
) -> None:
    # Every character of the secret percent-encoded: the server must undo it.
    encoded = "".join(f"%{byte:02X}" for byte in partner.secret.encode())
    raw = f"{partner.client_id}:{encoded}".encode()
    header = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}
    assert post(client, "grant_type=client_credentials", **header).status_code == 200
    # A "+" is a space once decoded: this secret is not the partner's.
    plus = f"{partner.client_id}:+{partner.secret}".encode()
    refused = post(
        client,
        "grant_type=client_credentials",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(plus).decode(),
    )
    assert_error(refused, 401, "invalid_client")


def test_both_authentication_methods_at_once_are_refused(client: Client, partner: Partner) -> None:
    response = post(client, body_auth(partner), **basic(partner.client_id, partner.secret))
    assert_error(response, 400, "invalid_request")


def test_a_wrong_secret_over_basic_is_401_with_a_basic_challenge(
    client: Client, partner: Partner
) -> None:
    wrong = partner.secret[:-1] + ("B" if partner.secret.endswith("A") else "A")
    response = post(client, "grant_type=client_credentials", **basic(partner.client_id, wrong))
    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="tollgate"'


def test_every_client_failure_reads_the_same(client: Client, partner: Partner) -> None:
    other = services.create_client(application=_second_application(partner)).secret.secret
    wrong = partner.secret[:-1] + ("B" if partner.secret.endswith("A") else "A")
    answers = [
        post(client, "grant_type=client_credentials", **basic(cid, secret))
        for cid, secret in [
            ("tgc_unknownunknownunkn", partner.secret),
            (partner.client_id, wrong),
            (partner.client_id, "not-a-secret"),
            (partner.client_id, other),  # another client's working secret
        ]
    ]
    assert {(a.status_code, a.content) for a in answers} == {
        (answers[0].status_code, answers[0].content)
    }
    assert_error(answers[0], 401, "invalid_client")


def _second_application(partner: Partner) -> Any:
    from tests.mgmt import factories

    return factories.application(organization=partner.application.organization)


def test_a_wrong_secret_in_the_body_is_invalid_client_400(client: Client, partner: Partner) -> None:
    response = post(
        client, f"grant_type=client_credentials&client_id={partner.client_id}&client_secret=nope"
    )
    assert_error(response, 400, "invalid_client")
    assert "WWW-Authenticate" not in response


def test_no_client_authentication_is_invalid_client(client: Client, partner: Partner) -> None:
    response = post(client, "grant_type=client_credentials")
    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="tollgate"'


def test_missing_grant_type_is_invalid_request(client: Client, partner: Partner) -> None:
    response = post(client, "", **basic(partner.client_id, partner.secret))
    assert_error(response, 400, "invalid_request")


def test_another_grant_type_is_unsupported(client: Client, partner: Partner) -> None:
    response = post(client, "grant_type=password", **basic(partner.client_id, partner.secret))
    assert_error(response, 400, "unsupported_grant_type")


def test_a_json_body_is_invalid_request(client: Client, partner: Partner) -> None:
    response = client.post(
        URL,
        {"grant_type": "client_credentials"},
        content_type="application/json",
        **basic(partner.client_id, partner.secret),
    )
    assert_error(response, 400, "invalid_request")


def test_a_repeated_parameter_is_invalid_request(client: Client, partner: Partner) -> None:
    response = post(
        client,
        "grant_type=client_credentials&scope=a&scope=b",
        **basic(partner.client_id, partner.secret),
    )
    assert_error(response, 400, "invalid_request")


def test_get_is_405_and_says_post(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Cache-Control"] == "no-store"


def test_a_body_over_4_kib_is_refused(client: Client, partner: Partner) -> None:
    response = post(client, body_auth(partner, "&pad=" + "x" * 4096))
    assert_error(response, 413, "invalid_request")


def test_a_subset_of_scopes_may_be_asked_for(client: Client, partner: Partner) -> None:
    response = post(client, body_auth(partner, "&scope=stock%3Aread"))
    assert response.status_code == 200
    assert response.json()["scope"] == "stock:read"
    assert verified_claims(response.json()["access_token"], the_jwk())["scope"] == "stock:read"


def test_a_scope_of_an_unsubscribed_product_is_invalid_scope(
    client: Client, partner: Partner
) -> None:
    response = post(client, body_auth(partner, "&scope=stock%3Aread+admin"))
    assert_error(response, 400, "invalid_scope")


def test_scopes_of_a_suspended_subscription_are_not_granted(
    client: Client, partner: Partner
) -> None:
    Subscription.objects.filter(pk=partner.subscription.pk).update(
        state=Subscription.State.SUSPENDED
    )
    response = post(client, body_auth(partner))
    assert response.status_code == 200
    assert "scope" not in response.json()  # RFC 6749 §5.1: nothing granted, nothing said
    assert "scope" not in verified_claims(response.json()["access_token"], the_jwk())
    assert_error(post(client, body_auth(partner, "&scope=orders%3Aread")), 400, "invalid_scope")


def test_a_revoked_client_is_invalid_client(client: Client, partner: Partner) -> None:
    services.revoke_client(client=OAuthClient.objects.get(client_id=partner.client_id))
    assert_error(post(client, body_auth(partner)), 400, "invalid_client")


def test_a_revoked_secret_is_invalid_client(client: Client, partner: Partner) -> None:
    services.revoke_secret(secret=OAuthClientSecret.objects.get())
    assert_error(post(client, body_auth(partner)), 400, "invalid_client")


def test_a_rotated_secret_works_until_its_overlap_ends(
    client: Client, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = OAuthClientSecret.objects.get()
    new = services.rotate_secret(secret=old, overlap_seconds=300)
    new_partner = Partner(partner.application, partner.subscription, partner.client_id, new.secret)
    assert post(client, body_auth(partner)).status_code == 200
    assert post(client, body_auth(new_partner)).status_code == 200
    later = timezone.now() + timedelta(seconds=301)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert_error(post(client, body_auth(partner)), 400, "invalid_client")
    assert post(client, body_auth(new_partner)).status_code == 200


def test_too_many_requests_per_client_get_429_with_retry_after(
    client: Client, partner: Partner, settings: Any
) -> None:
    settings.TOLLGATE_OAUTH_THROTTLE_CLIENT = "2/min"
    assert post(client, body_auth(partner)).status_code == 200
    assert post(client, body_auth(partner)).status_code == 200
    response = post(client, body_auth(partner))
    assert_error(response, 429, "slow_down")
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another client from the same address still has its own budget.
    other = services.create_client(application=_second_application(partner))
    assert (
        post(
            client,
            "grant_type=client_credentials",
            **basic(other.client.client_id, other.secret.secret),
        ).status_code
        == 200
    )


def test_too_many_requests_per_address_get_429(
    client: Client, partner: Partner, settings: Any
) -> None:
    settings.TOLLGATE_OAUTH_THROTTLE_ADDRESS = "1/min"
    assert post(client, body_auth(partner)).status_code == 200
    response = post(client, "grant_type=client_credentials", REMOTE_ADDR="127.0.0.1")
    assert_error(response, 429, "slow_down")
    assert post(client, body_auth(partner), REMOTE_ADDR="10.0.0.9").status_code == 200


def test_without_a_sealing_key_the_endpoint_says_it_cannot_sign(
    client: Client, partner: Partner, settings: Any
) -> None:
    settings.TOLLGATE_SECRETS_KEY_FILE = None
    assert_error(post(client, body_auth(partner)), 503, "temporarily_unavailable")

"""Bearer tokens of an external issuer through the real Envoy: jwt_authn verifies them against a
JWKS it fetches over HTTP, the one decision maps the client to an application. The RFC 8725
matrix of forgeries is refused with 0 accepted; the JWKS is followed when it rotates and kept
when its endpoint breaks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from mgmt.gateway.models import Api, ApiKey, Application, Plan, Route
from mgmt.identity.models import TokenClient, TokenIssuer
from mgmt.identity.services import create_token_issuer, map_token_client, revoke_token_client
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import Reply, request
from tests.e2e.scenario import Scenario
from tests.e2e.tokens import (
    JwksServer,
    RsaKey,
    hs256_with_public_key,
    signed,
    tampered,
    unsigned,
)

ISSUER = "https://idp.e2e.test"
AUDIENCE = "orders-api"
SCOPE = "orders:read"
PROBLEM = "application/problem+json"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "azp": "demo-client",
        "iat": now,
        "exp": now + 300,
        "scope": f"{SCOPE} other",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def issuer_key() -> RsaKey:
    return RsaKey("k1")


@pytest.fixture
def jwks(issuer_key: RsaKey) -> Iterator[JwksServer]:
    server = JwksServer(issuer_key)
    yield server
    server.close()


@pytest.fixture
def accepting(gateway: Gateway, scenario: Scenario, jwks: JwksServer, issuer_key: RsaKey) -> str:
    """The demo API accepts the issuer's tokens; its route needs SCOPE. A valid token's
    first 200 is waited for; it is returned."""
    api = Api.objects.get(slug="demo")
    demo_app = ApiKey.objects.get(key_id=scenario.demo_key[3:15]).application
    with transaction.atomic():
        issuer = create_token_issuer(
            name="idp",
            issuer=ISSUER,
            audiences=AUDIENCE,
            jwks_uri=jwks.uri,
            algorithms="RS256",
            leeway_seconds=60,
            client_claims="azp client_id",
            apis=[api],
        )
        # Refreshed every 2 s here to see rotation in a test (admin allows 30 s at least).
        TokenIssuer.objects.filter(pk=issuer.pk).update(jwks_cache_seconds=2)
        map_token_client(issuer=issuer, client_id="demo-client", application=demo_app)
        map_token_client(
            issuer=issuer,
            client_id="stranger-client",
            application=Application.objects.get(name="Unsubscribed app"),
        )
        Route.objects.filter(api_version__api=api).update(required_scopes=SCOPE)
        # The demo key's plan grants it too: keys on a scoped route need their plan's grant.
        Plan.objects.filter(product=api.product).update(granted_scopes=SCOPE)
        route = Route.objects.filter(api_version__api=api).first()
        assert route is not None
        route.save()  # one save: the snapshot is published on commit
    token = signed(issuer_key, claims())
    wait_until(
        lambda: _call(gateway, token).status == 200, 15, "a valid token is accepted at the gateway"
    )
    return token


def _call(gateway: Gateway, token: str, path: str = "/demo/orders") -> Reply:
    return request(gateway.ports.gateway, path, {"authorization": f"Bearer {token}"})


def _problem_type(reply: Reply) -> str:
    assert reply.headers["content-type"] == PROBLEM, (reply.status, reply.body[:200])
    return str(reply.json()["type"]).rsplit("/", 1)[-1]


def test_the_rfc_8725_matrix_refuses_every_forgery_and_admits_only_valid_tokens(
    gateway: Gateway, scenario: Scenario, accepting: str, issuer_key: RsaKey
) -> None:
    now = int(time.time())
    stranger = RsaKey("k1")  # same kid, another key: a signature no JWKS key verifies
    matrix = {
        "alg none": (unsigned(claims()), 401, "invalid-token"),
        "HS256 keyed with the RS public key": (
            hs256_with_public_key(issuer_key, claims()),
            401,
            "invalid-token",
        ),
        "unknown kid": (signed(RsaKey("k9"), claims()), 401, "invalid-token"),
        "signed by another key": (signed(stranger, claims()), 401, "invalid-token"),
        "exp 90 s ago, leeway 60 s": (
            signed(issuer_key, claims(exp=now - 90)),
            401,
            "invalid-token",
        ),
        "nbf 90 s ahead": (signed(issuer_key, claims(nbf=now + 90)), 401, "invalid-token"),
        "no exp": (signed(issuer_key, claims(exp=None)), 401, "invalid-token"),
        "wrong aud": (signed(issuer_key, claims(aud="another-api")), 401, "invalid-token"),
        "wrong iss": (signed(issuer_key, claims(iss="https://evil.test")), 401, "invalid-token"),
        "tampered payload": (tampered(accepting, azp="stranger-client"), 401, "invalid-token"),
        "client not registered": (
            signed(issuer_key, claims(azp="nobody")),
            401,
            "invalid-token",
        ),
        "application without subscription": (
            signed(issuer_key, claims(azp="stranger-client")),
            403,
            "not-subscribed",
        ),
        "missing scope": (signed(issuer_key, claims(scope="other")), 403, "insufficient-scope"),
        # Verified by jwt_authn, refused by the sidecar (RFC 8725): a JWKS URI may hold
        # several keys, so the token must name its own.
        "no kid (the issuer's JWKS is remote)": (
            signed(issuer_key, claims(), header={"kid": None}),
            401,
            "invalid-token",
        ),
        # The sidecar judges the header Envoy verified, not one planted beside the token.
        "a planted header beside a kid-less token": (
            f"{accepting} Bearer {signed(issuer_key, claims(), header={'kid': None})}",
            401,
            "invalid-token",
        ),
        "malformed: two segments": ("abc.def", 401, "invalid-token"),
        "malformed: five segments": ("a.b.c.d.e", 401, "invalid-token"),
        "malformed: not base64": ("%%%.***.!!!", 401, "invalid-token"),
    }
    accepted = []
    for case, (token, status, problem) in matrix.items():
        reply = _call(gateway, token)
        if reply.status == 200:
            accepted.append(case)
            continue
        assert (reply.status, _problem_type(reply)) == (status, problem), case
        if status == 401:
            assert reply.headers["www-authenticate"].startswith('Bearer realm="tollgate"'), case
    assert accepted == []
    # Claims a client writes itself are removed before jwt_authn: a key-less forgery is 401.
    forged = {
        "x-tollgate-token-issuer": ISSUER,
        "x-tollgate-token-client-0": "demo-client",
        "x-tollgate-token-alg": "RS256",
        "x-tollgate-token-kid": "k1",
        "authorization": "Bearer not.a.jwt",
    }
    assert request(gateway.ports.gateway, "/demo/orders", forged).status == 401

    # The denial says why, in the problem and in RFC 6750's challenge.
    expired = _call(gateway, signed(issuer_key, claims(exp=now - 90)))
    assert "expired" in expired.json()["detail"].lower()
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    missing = _call(gateway, signed(issuer_key, claims(scope="other")))
    assert missing.json()["scope"] == SCOPE
    assert f'scope="{SCOPE}"' in missing.headers["www-authenticate"]

    # Within the leeway, and the same identity headers upstream as the key's; the token is not.
    within = _call(gateway, signed(issuer_key, claims(exp=now - 30)))
    assert within.status == 200
    by_key = request(gateway.ports.gateway, "/demo/orders", {"x-api-key": scenario.demo_key})
    seen, seen_by_key = within.json()["headers"], by_key.json()["headers"]
    for name in ("x-consumer-id", "x-application-id", "x-plan"):
        assert seen[name] == seen_by_key[name], name
    assert "authorization" not in seen
    # The key still works as a bearer on an API that accepts tokens; scopes do not bind it.
    assert _call(gateway, scenario.demo_key).status == 200


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_jwks_rotation_is_followed_and_a_broken_endpoint_keeps_the_last_good_keys(
    gateway: Gateway, accepting: str, jwks: JwksServer, issuer_key: RsaKey
) -> None:
    rotated = RsaKey("k2")
    jwks.keys = [issuer_key, rotated]
    took = wait_until(
        lambda: _call(gateway, signed(rotated, claims())).status == 200,
        10,
        "a token signed with the issuer's new key is accepted",
    )
    print(f"\nJWKS rotated at the issuer -> new key accepted: {took:.2f}s")
    assert _call(gateway, accepting).status == 200

    for mode in ("garbage", "hang"):
        fetches = jwks.fetches
        jwks.mode = mode
        wait_until(
            lambda since=fetches: jwks.fetches >= since + 2, 15, f"Envoy refetches a {mode} JWKS"
        )
        # The last good JWKS stays: both keys still verify, nothing new is admitted.
        assert _call(gateway, accepting).status == 200
        assert _call(gateway, signed(rotated, claims())).status == 200
        assert _call(gateway, signed(RsaKey("k3"), claims())).status == 401
        jwks.mode = "ok"


def test_a_revoked_client_is_refused_within_2_seconds_and_huge_tokens_cleanly(
    gateway: Gateway, accepting: str
) -> None:
    client = TokenClient.objects.get(client_id="demo-client")
    revoke_token_client(client=client)
    took = wait_until(
        lambda: _call(gateway, accepting).status == 401, 2, "a revoked client's token is refused"
    )
    print(f"\ntoken client revoked -> refused: {took:.2f}s")
    assert _problem_type(_call(gateway, accepting)) == "revoked-credentials"

    # 64 KiB of token: over Envoy's header limit, a problem, never a crash or a 5xx.
    huge = _call(gateway, "e" * 65_536)
    assert (huge.status, huge.headers["content-type"]) == (431, PROBLEM)
    assert _call(gateway, "x" * 16_000 + ".y.z").status == 401

"""The one decision for callers without an API key: a bearer token Envoy's jwt_authn verified
(its claims in the headers the gateway sets) and a TLS client certificate (its fingerprint).
The store is built from the compiler's own credential shards."""

import base64
import hashlib
import json
from typing import Any

import pytest
from envoy.service.auth.v3 import external_auth_pb2

from extauthz.decision import CERTIFICATE_CALLER, TOKEN_CALLER, decide, presented_key_id
from extauthz.route_context import RouteContext, TokenPolicy, token_policies_value
from extauthz.store import Store
from mgmt.compiler.inputs import ClientCertificateRow, CredentialRow, Rows, TokenClientRow
from mgmt.compiler.sidecar_resources import credential_shards
from tests.extauthz.factories import (
    DRAFT_API,
    NOW,
    World,
    application_shards,
    route,
)

pytestmark = pytest.mark.pure

ISSUER = "https://idp.example"
OTHER_ISSUER = "https://other.example"
CERT = hashlib.sha256(b"partner certificate DER").digest()
REVOKED_CERT = hashlib.sha256(b"revoked certificate DER").digest()
EXPIRED_CERT = hashlib.sha256(b"expired certificate DER").digest()
UNSUBSCRIBED_APP = 3


def _segment(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def token(alg: str = "ES256", kid: str | None = "k1") -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "at+jwt"}
    if kid is not None:
        header["kid"] = kid
    return f"{_segment(header)}.{_segment({'iss': ISSUER})}.c2lnbmF0dXJl"


KEYS = World()


def _store() -> Store:
    world = KEYS
    world.partner.grants[0].scopes.append("orders:read")
    rows = Rows(
        credentials=tuple(
            CredentialRow(c.key_id, c.key_hash, c.application_id) for c in world.credentials
        ),
        token_clients=(
            TokenClientRow(ISSUER, "partner-client", world.partner.id),
            TokenClientRow(ISSUER, "revoked-client", world.partner.id, revoked_at=int(NOW) - 5),
            TokenClientRow(ISSUER, "stranger-client", UNSUBSCRIBED_APP),
            TokenClientRow(ISSUER, "klïent", world.partner.id),
        ),
        client_certificates=(
            ClientCertificateRow(CERT, world.partner.id, expires_at=int(NOW) + 86400),
            ClientCertificateRow(REVOKED_CERT, world.partner.id, revoked_at=int(NOW) - 1),
            ClientCertificateRow(EXPIRED_CERT, world.partner.id, expires_at=int(NOW) - 1),
        ),
    )
    store = Store()
    store.replace_credential_shards(s.SerializeToString() for s in credential_shards(rows))
    stranger = world.partner.__class__(
        id=UNSUBSCRIBED_APP, public_id="app_stranger", organization_id=30, consumer_id="x"
    )
    store.replace_application_shards(application_shards([world.partner, world.owner, stranger]))
    return store


def token_route(
    *, scopes: str = "", algorithms: tuple[str, ...] = ("ES256",), kid: bool = True, **kw: Any
) -> dict[str, str]:
    context = route(**kw)
    context["tokens"] = token_policies_value({ISSUER: TokenPolicy(frozenset(algorithms), kid, 2)})
    if scopes:
        context["scopes"] = scopes
    return context


def verified(client: str = "partner-client", scope: str = "", **extra: str) -> dict[str, str]:
    """What the gateway hands the sidecar for a token jwt_authn verified: its claims and the
    `alg` and `kid` of the JOSE header it verified."""
    headers = {
        "authorization": f"Bearer {token()}",
        "x-tollgate-token-issuer": ISSUER,
        "x-tollgate-token-client-0": client,
        "x-tollgate-token-alg": "ES256",
        "x-tollgate-token-kid": "k1",
    }
    if scope:
        headers["x-tollgate-token-scope"] = scope
    headers.update(extra)
    return headers


STORE = _store()


def check(headers: dict[str, str], context: dict[str, str]) -> Any:
    answer = decide(headers, RouteContext.of(context), STORE, NOW)
    return external_auth_pb2.CheckResponse.FromString(answer.grpc), answer


def _problem(response: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(response.denied_response.body)
    return document


def _challenge(response: Any) -> str:
    (value,) = [
        h.header.value
        for h in response.denied_response.headers
        if h.header.key == "www-authenticate"
    ]
    return str(value)


def _upstream(response: Any) -> dict[str, str]:
    return {h.header.key: h.header.value for h in response.ok_response.headers}


def test_a_verified_token_of_a_registered_client_calls_as_its_application() -> None:
    response, _ = check(verified(), token_route())
    assert response.status.code == 0
    assert _upstream(response)["x-application-id"] == "app_partner"
    # The token, like a key, never reaches the upstream.
    assert list(response.ok_response.headers_to_remove) == ["authorization"]


def test_the_second_client_claim_is_read_when_the_first_is_absent() -> None:
    headers = verified()
    headers["x-tollgate-token-client-1"] = headers.pop("x-tollgate-token-client-0")
    response, _ = check(headers, token_route())
    assert response.status.code == 0


def test_a_client_id_outside_ascii_matches_as_text_and_a_lookalike_does_not() -> None:
    response, _ = check(verified(client="klïent"), token_route())
    assert response.status.code == 0
    for lookalike in ("kl?ent", "klïent".encode().decode("latin-1"), "kl\udcc3\udcafent"):
        response, _ = check(verified(client=lookalike), token_route())
        assert response.denied_response.status.code == 401, lookalike


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("Jwt is expired", "Jwt is expired"),
        ("Audiences in Jwt are not allowed", "Audiences in Jwt are not allowed"),
        ('Jwt "quoted" \\ reason\r\nx', "Jwt ?quoted? ? reason??x"),
    ],
)
def test_a_token_jwt_authn_refused_is_401_invalid_token_saying_why(
    reason: str, expected: str
) -> None:
    headers = {"authorization": f"Bearer {token()}", "x-tollgate-token-error": reason}
    response, _ = check(headers, token_route())
    problem = _problem(response)
    assert (response.denied_response.status.code, problem["type"]) == (
        401,
        "https://tollgate.dev/problems/invalid-token",
    )
    assert expected[1:] in problem["detail"]
    assert _challenge(response) == (
        f'Bearer realm="tollgate", error="invalid_token", error_description="{expected}"'
    )


def test_a_token_without_verified_claims_or_reason_is_an_invalid_credential() -> None:
    response, _ = check({"authorization": f"Bearer {token()}"}, token_route())
    assert response.denied_response.status.code == 401
    assert _problem(response)["type"].endswith("/invalid-credentials")


@pytest.mark.parametrize(
    ("alg", "kid", "policy", "says"),
    [
        ("HS256", "k1", {}, "algorithm is not accepted"),
        ("none", "k1", {}, "algorithm is not accepted"),
        ("RS256", "k1", {"algorithms": ("ES256",)}, "accepted: ES256"),
        ("", "k1", {}, "algorithm is not accepted"),
        ("ES256", "", {"kid": True}, "names no key"),
    ],
)
def test_rfc_8725_rules_jwt_authn_cannot_check_are_the_sidecars(
    alg: str, kid: str, policy: dict[str, Any], says: str
) -> None:
    headers = verified()
    for name, value in (("x-tollgate-token-alg", alg), ("x-tollgate-token-kid", kid)):
        if value:
            headers[name] = value
        else:
            del headers[name]
    response, _ = check(headers, token_route(**policy))
    assert response.denied_response.status.code == 401
    assert says in _problem(response)["detail"]


def test_the_header_checked_is_the_one_envoy_verified_not_the_requests() -> None:
    """A request whose Authorization holds a made-up ES256 header besides the token Envoy
    verified (RS256) is judged by what Envoy verified."""
    headers = verified(authorization=f"bearer {token(alg='ES256')} Bearer {token(alg='RS256')}")
    headers["x-tollgate-token-alg"] = "RS256"
    response, _ = check(headers, token_route(algorithms=("ES256",)))
    assert response.denied_response.status.code == 401
    assert "accepted: ES256" in _problem(response)["detail"]


def test_a_token_without_kid_passes_an_issuer_with_one_key() -> None:
    headers = verified()
    del headers["x-tollgate-token-kid"]
    response, _ = check(headers, token_route(kid=False))
    assert response.status.code == 0


def test_a_verified_token_of_an_issuer_this_api_does_not_list_is_refused() -> None:
    headers = verified(**{"x-tollgate-token-issuer": OTHER_ISSUER})
    response, _ = check(headers, token_route())
    assert response.denied_response.status.code == 401
    assert "does not accept tokens" in _problem(response)["detail"]


@pytest.mark.parametrize(
    ("client", "slug"),
    [("unknown-client", "invalid-token"), ("revoked-client", "revoked-credentials")],
)
def test_unregistered_and_revoked_clients_are_401(client: str, slug: str) -> None:
    response, _ = check(verified(client=client), token_route())
    assert response.denied_response.status.code == 401
    assert _problem(response)["type"].endswith(slug)


def test_a_token_naming_no_client_is_401() -> None:
    headers = verified()
    del headers["x-tollgate-token-client-0"]
    response, _ = check(headers, token_route())
    assert "names no client" in _problem(response)["detail"]


def test_a_missing_scope_is_403_naming_it_and_the_scopes_held_pass() -> None:
    response, _ = check(verified(scope="read"), token_route(scopes="read write"))
    problem = _problem(response)
    assert (response.denied_response.status.code, problem["scope"]) == (403, "write")
    assert problem["type"].endswith("/insufficient-scope")
    assert _challenge(response) == (
        'Bearer realm="tollgate", error="insufficient_scope", scope="write"'
    )
    allowed, _ = check(verified(scope="write admin read"), token_route(scopes="read write"))
    assert allowed.status.code == 0


def test_a_key_on_a_scoped_route_needs_a_plan_that_grants_the_scopes() -> None:
    # The partner's plan grants orders:read only (see _store).
    allowed, _ = check({"x-api-key": KEYS.secret("partner")}, token_route(scopes="orders:read"))
    assert allowed.status.code == 0
    refused, _ = check({"x-api-key": KEYS.secret("partner")}, token_route(scopes="orders:write"))
    assert refused.denied_response.status.code == 403
    assert _problem(refused)["scope"] == "orders:write"
    certificate, _ = check({"x-tollgate-client-cert": CERT.hex()}, token_route(scopes="admin"))
    assert certificate.denied_response.status.code == 403


def test_a_tokens_scopes_are_its_own_not_its_plans() -> None:
    response, _ = check(verified(scope=""), token_route(scopes="orders:read"))
    assert _problem(response)["scope"] == "orders:read"


def test_a_token_client_without_subscription_is_403_not_subscribed() -> None:
    response, _ = check(verified(client="stranger-client"), token_route())
    assert response.denied_response.status.code == 403
    assert _problem(response)["type"].endswith("/not-subscribed")


def test_on_a_route_that_accepts_no_token_a_jwt_is_an_invalid_key() -> None:
    response, _ = check(verified(), route())
    assert response.denied_response.status.code == 401
    assert _problem(response)["type"].endswith("/invalid-credentials")


def test_token_failures_on_a_draft_do_not_reveal_it() -> None:
    draft = token_route(api=DRAFT_API, lifecycle="draft", scopes="secret:scope")
    for headers in (
        {"authorization": f"Bearer {token()}", "x-tollgate-token-error": "Jwt is expired"},
        verified(client="unknown-client"),
        verified(client="partner-client"),  # the partner does not own the draft
    ):
        response, _ = check(headers, draft)
        assert response.denied_response.status.code == 404


def test_a_registered_client_certificate_calls_as_its_application() -> None:
    response, _ = check({"x-tollgate-client-cert": CERT.hex()}, route())
    assert response.status.code == 0
    assert _upstream(response)["x-application-id"] == "app_partner"
    assert list(response.ok_response.headers_to_remove) == ["x-tollgate-client-cert"]


@pytest.mark.parametrize(
    ("fingerprint", "slug"),
    [
        (REVOKED_CERT.hex(), "revoked-credentials"),
        (EXPIRED_CERT.hex(), "expired-credentials"),
        (hashlib.sha256(b"someone else").hexdigest(), "invalid-credentials"),
    ],
)
def test_revoked_expired_and_unknown_certificates_are_401(fingerprint: str, slug: str) -> None:
    response, _ = check({"x-tollgate-client-cert": fingerprint}, route())
    assert response.denied_response.status.code == 401
    problem = _problem(response)
    assert problem["type"].endswith(slug)
    assert "certificate" in problem["detail"]


def test_a_key_or_token_in_the_request_wins_over_the_connections_certificate() -> None:
    headers = {"x-tollgate-client-cert": CERT.hex(), "x-api-key": "tg_not_a_real_key"}
    response, _ = check(headers, route())
    assert _problem(response)["type"].endswith("/invalid-credentials")
    # The stranger's token, on the partner's certificate: the token speaks (403 unsubscribed).
    with_token = {**verified(client="stranger-client"), "x-tollgate-client-cert": CERT.hex()}
    response, _ = check(with_token, token_route())
    assert _problem(response)["type"].endswith("/not-subscribed")


@pytest.mark.parametrize(
    ("headers", "label"),
    [
        (verified(), TOKEN_CALLER),
        ({"x-tollgate-client-cert": CERT.hex()}, CERTIFICATE_CALLER),
        ({"x-api-key": "tg_abcdefghijkl_rest"}, "abcdefghijkl"),
        ({"authorization": "Bearer tg_abcdefghijkl_rest"}, "abcdefghijkl"),
    ],
)
def test_the_access_log_names_the_kind_of_caller_never_a_token(
    headers: dict[str, str], label: str
) -> None:
    assert presented_key_id(headers) == label

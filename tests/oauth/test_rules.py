"""Claims, scope negotiation, credentials format and the parsing of token requests: pure."""

import base64
from urllib.parse import quote_plus

import pytest

from mgmt.oauth import claims, credentials, scopes
from mgmt.oauth.errors import OAuthError
from mgmt.oauth.token_request import check_grant_type, parse_form, parse_token_request

pytestmark = pytest.mark.pure

FORM = "application/x-www-form-urlencoded"


def test_claims_are_those_of_rfc_9068_with_the_client_as_subject() -> None:
    got = claims.access_token_claims(
        issuer="https://as",
        audience="gw",
        client_id="tgc_a",
        scopes=("read", "write"),
        now=1_000,
        lifetime_seconds=600,
        jti="j1",
    )
    assert got == {
        "iss": "https://as",
        "sub": "tgc_a",
        "client_id": "tgc_a",
        "aud": "gw",
        "iat": 1_000,
        "nbf": 1_000,
        "exp": 1_600,
        "jti": "j1",
        "scope": "read write",
    }


def test_a_token_without_scopes_carries_no_scope_claim() -> None:
    got = claims.access_token_claims(
        issuer="i", audience="a", client_id="c", scopes=(), now=0, lifetime_seconds=1, jti="j"
    )
    assert "scope" not in got


def test_jti_differs_per_token() -> None:
    assert len({claims.new_jti() for _ in range(100)}) == 100


def test_no_scope_asked_grants_every_allowed_scope_sorted() -> None:
    assert scopes.granted_scopes(None, {"write", "read"}) == ("read", "write")
    assert scopes.granted_scopes("  ", {"read"}) == ("read",)
    assert scopes.granted_scopes(None, set()) == ()


def test_asked_scopes_are_granted_in_order_once_each() -> None:
    assert scopes.granted_scopes("write read write", {"read", "write", "x"}) == ("write", "read")


def test_a_scope_outside_the_allowed_ones_is_refused() -> None:
    with pytest.raises(scopes.ScopeRefused, match="admin"):
        scopes.granted_scopes("read admin", {"read"})


def test_a_malformed_scope_token_is_refused() -> None:
    with pytest.raises(scopes.ScopeRefused, match="scope token"):
        scopes.granted_scopes('re"ad', {'re"ad'})


def test_issued_secrets_have_their_id_and_only_their_hash_matches() -> None:
    issued = credentials.issue_secret()
    assert credentials.secret_id_of(issued.secret) == issued.secret_id
    assert credentials.secret_matches(issued.secret, issued.secret_hash)
    tampered = issued.secret[:-1] + ("B" if issued.secret.endswith("A") else "A")
    assert not credentials.secret_matches(tampered, issued.secret_hash)
    assert credentials.secret_id_of("tgcs_short") is None
    assert credentials.new_client_id().startswith("tgc_")
    assert len(credentials.new_client_id()) == credentials.CLIENT_ID_LENGTH


def _basic(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def test_basic_credentials_are_form_urldecoded() -> None:
    parsed = parse_token_request(
        _basic("id with:colon", "s+cret/é"), FORM, b"grant_type=client_credentials"
    )
    assert parsed.client.client_id == "id with:colon"
    assert parsed.client.client_secret == "s+cret/é"
    assert parsed.client.method == "client_secret_basic"


def test_body_credentials_are_client_secret_post() -> None:
    parsed = parse_token_request(
        None, FORM, b"grant_type=client_credentials&client_id=a&client_secret=b&scope=x+y"
    )
    assert parsed.client == ("a", "b", "client_secret_post")
    assert parsed.scope == "x y"


def test_both_methods_at_once_is_an_invalid_request() -> None:
    with pytest.raises(OAuthError) as raised:
        parse_token_request(
            _basic("a", "b"), FORM, b"grant_type=client_credentials&client_secret=b"
        )
    assert (raised.value.error, raised.value.status) == ("invalid_request", 400)


def test_no_credentials_is_invalid_client_with_a_basic_challenge() -> None:
    with pytest.raises(OAuthError) as raised:
        parse_token_request(None, FORM, b"grant_type=client_credentials")
    assert (raised.value.error, raised.value.status) == ("invalid_client", 401)


def test_a_repeated_parameter_is_an_invalid_request() -> None:
    with pytest.raises(OAuthError, match="repeated") as raised:
        parse_form(FORM, b"grant_type=client_credentials&grant_type=client_credentials")
    assert raised.value.error == "invalid_request"


def test_an_empty_parameter_counts_as_omitted() -> None:
    assert parse_form(FORM, b"scope=&grant_type=x") == {"grant_type": "x"}


def test_a_body_that_is_not_a_form_is_an_invalid_request() -> None:
    with pytest.raises(OAuthError) as raised:
        parse_form("application/json", b"{}")
    assert raised.value.error == "invalid_request"


def test_missing_grant_type_is_an_invalid_request_and_another_one_unsupported() -> None:
    with pytest.raises(OAuthError) as raised:
        parse_token_request(None, FORM, b"client_id=a&client_secret=b")
    assert raised.value.error == "invalid_request"
    with pytest.raises(OAuthError) as raised:
        check_grant_type("password")
    assert raised.value.error == "unsupported_grant_type"

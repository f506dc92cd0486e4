"""The checks of a token issuer's settings: asymmetric algorithms only, a safe JWKS URI, and
an inline JWKS of public keys the gateway can load, each refusal naming the key at fault."""

from __future__ import annotations

import json

import pytest

from mgmt.identity.jwks_checks import (
    MAX_JWKS_BYTES,
    JwksProblem,
    check_jwks,
    check_jwks_uri,
    parse_algorithms,
    parse_audiences,
    parse_client_claims,
)
from tests.identity.material import b64url, ec_jwk, ed25519_jwk, jwks, rsa_jwk

pytestmark = [pytest.mark.pure]
RS = ("RS256",)
ALL = ("RS256", "PS256", "ES256", "ES384", "EdDSA")


def refusal(text: str, algorithms: tuple[str, ...] = ALL) -> str:
    with pytest.raises(JwksProblem) as caught:
        check_jwks(text, algorithms)
    assert caught.value.field == "jwks_json"
    return str(caught.value)


def test_a_jwks_of_rsa_ec_and_ed25519_public_keys_is_accepted() -> None:
    text = jwks(
        rsa_jwk(kid="r", alg="RS256", use="sig"),
        ec_jwk("P-256", kid="e", alg="ES256"),
        ec_jwk("P-384", kid="e3"),
        ed25519_jwk(kid="o", alg="EdDSA"),
    )
    assert check_jwks(text, ALL) == 4


def test_a_single_key_needs_no_kid() -> None:
    assert check_jwks(jwks(rsa_jwk()), RS) == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not JSON"),
        ("[]", '"keys" list'),
        ('{"keys": {}}', '"keys" list'),
        ('{"keys": []}', "no keys"),
        ('{"keys": [1]}', "key 0: a key is a JSON object"),
        ('{"keys": [], "keys": []}', "appears twice"),
    ],
)
def test_what_is_not_a_jwk_set_is_refused(text: str, words: str) -> None:
    assert words in refusal(text)


def test_a_symmetric_key_is_refused_as_a_secret() -> None:
    message = refusal(jwks(rsa_jwk(kid="a"), {"kty": "oct", "k": "c2VjcmV0", "kid": "b"}))
    assert message.startswith("key 1:") and "symmetric" in message


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi"])
def test_a_private_member_is_refused(member: str) -> None:
    message = refusal(jwks(rsa_jwk(**{member: "AQAB"})))
    assert "key 0" in message and member in message and "private" in message


def test_an_unknown_kty_is_refused() -> None:
    assert "kty must be RSA, EC or OKP" in refusal(jwks({"kty": "DSA"}))


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ({"kty": "RSA", "e": "AQAB"}, "'n' is missing"),
        ({"kty": "RSA", "n": "!!", "e": "AQAB"}, "'n' is not base64url"),
        ({"kty": "EC", "crv": "P-521"}, "P-256 or P-384"),
        ({"kty": "EC", "crv": "P-256", "x": b64url(b"\x01" * 32)}, "'y' is missing"),
        ({"kty": "OKP", "crv": "X25519", "x": b64url(b"\x01" * 32)}, "crv Ed25519"),
        ({"kty": "OKP", "crv": "Ed25519"}, "'x' is missing"),
    ],
)
def test_missing_public_members_are_refused(key: dict[str, str], words: str) -> None:
    assert words in refusal(jwks(key))


def test_an_rsa_key_below_2048_bits_is_refused() -> None:
    assert "RSA key of 1024 bits" in refusal(jwks(rsa_jwk(1024)))


def test_an_ec_point_off_its_curve_is_refused() -> None:
    key = ec_jwk("P-256")
    key["y"] = b64url(b"\x00" * 31 + b"\x05")
    assert "not on curve P-256" in refusal(jwks(key))


def test_ec_coordinates_of_the_wrong_length_are_refused() -> None:
    key = ec_jwk("P-256")
    key["x"] = b64url(b"\x01" * 31)
    assert "32 bytes each" in refusal(jwks(key))


def test_an_ed25519_key_of_the_wrong_length_is_refused() -> None:
    assert "Ed25519" in refusal(jwks({"kty": "OKP", "crv": "Ed25519", "x": b64url(b"1" * 31)}))


def test_several_keys_each_need_a_kid() -> None:
    message = refusal(jwks(rsa_jwk(kid="a"), ec_jwk()))
    assert message.startswith("key 1: has no kid") and "RFC 8725" in message


def test_duplicate_kids_are_refused() -> None:
    assert "key 1: kid 'a' is also the kid of key 0" in refusal(
        jwks(rsa_jwk(kid="a"), ec_jwk(kid="a"))
    )


def test_a_key_alg_outside_the_allow_list_is_refused() -> None:
    message = refusal(jwks(ec_jwk(alg="ES256")), RS)
    assert "key 0: alg 'ES256' is not in the issuer's algorithms (RS256)" in message


def test_a_key_alg_that_does_not_fit_its_key_is_refused() -> None:
    assert "needs a EC key on P-384" in refusal(jwks(ec_jwk("P-256", alg="ES384")))


def test_a_key_for_encryption_is_refused() -> None:
    assert "use must be sig" in refusal(jwks(rsa_jwk(use="enc")))


def test_a_jwks_over_64_kib_is_refused() -> None:
    padded = json.dumps({"keys": [rsa_jwk()], "pad": "x" * MAX_JWKS_BYTES})
    assert "over 64 KiB" in refusal(padded)


@pytest.mark.parametrize("name", ["HS256", "hs512", "none", "NONE"])
def test_symmetric_algorithms_and_none_are_refused_citing_rfc_8725(name: str) -> None:
    with pytest.raises(JwksProblem, match="RFC 8725"):
        parse_algorithms(f"RS256 {name}")


def test_algorithms_keep_their_order_and_drop_repeats() -> None:
    assert parse_algorithms("ES256, RS256 ES256") == ("ES256", "RS256")
    with pytest.raises(JwksProblem, match="unknown algorithm"):
        parse_algorithms("RS1")
    with pytest.raises(JwksProblem, match="at least one"):
        parse_algorithms(" ")


def test_audiences_and_client_claims_are_lists_of_words() -> None:
    assert parse_audiences("api://orders\nhttps://x.example, api://orders") == (
        "api://orders",
        "https://x.example",
    )
    assert parse_client_claims("azp client_id") == ("azp", "client_id")
    with pytest.raises(JwksProblem):
        parse_audiences("")
    with pytest.raises(JwksProblem):
        parse_client_claims("a{b}")


@pytest.mark.parametrize(
    "uri",
    [
        "https://idp.example.com/jwks",
        "http://localhost:8080/jwks",
        "http://127.0.0.1/k",
        "http://[::1]/k",
    ],
)
def test_jwks_uris_over_https_or_to_loopback_are_accepted(uri: str) -> None:
    assert check_jwks_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://idp.example.com/jwks", "loopback"),
        ("ftp://idp.example.com/jwks", "must be https"),
        ("https:///jwks", "with a host"),
        ("https://user:pw@idp.example.com/jwks", "no user"),
    ],
)
def test_other_jwks_uris_are_refused(uri: str, words: str) -> None:
    with pytest.raises(JwksProblem, match=words):
        check_jwks_uri(uri)

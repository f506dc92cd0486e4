"""JWS signing and JWK thumbprints, checked against RFC 7638 and an independent verifier."""

import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from mgmt.oauth import jose
from tests.oauth.jwt_check import header_of, unb64, verified_claims

pytestmark = pytest.mark.pure

RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6We"
    "Zu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    assert jose.thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_ignores_members_outside_the_required_ones() -> None:
    key = jose.public_jwk(jose.new_private_key().public_key())
    assert jose.thumbprint(key) == jose.thumbprint(jose.published_jwk(key, "whatever"))


def test_public_jwk_carries_32_byte_coordinates_of_the_key() -> None:
    private = jose.new_private_key()
    jwk = jose.public_jwk(private.public_key())
    numbers = private.public_key().public_numbers()
    assert set(jwk) == {"kty", "crv", "x", "y"}
    assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
    assert len(unb64(jwk["x"])) == 32 and len(unb64(jwk["y"])) == 32
    assert int.from_bytes(unb64(jwk["x"]), "big") == numbers.x
    assert int.from_bytes(unb64(jwk["y"]), "big") == numbers.y


def test_a_key_on_another_curve_is_refused() -> None:
    with pytest.raises(ValueError, match="P-256"):
        jose.public_jwk(ec.generate_private_key(ec.SECP384R1()).public_key())


def test_signed_token_verifies_independently_with_the_rfc_9068_header() -> None:
    private = jose.new_private_key()
    jwk = jose.public_jwk(private.public_key())
    kid = jose.thumbprint(jwk)
    claims = {"iss": "https://as.example", "sub": "tgc_x", "exp": 2_000_000_000}
    token = jose.sign_jwt(private, kid=kid, claims=claims)
    assert header_of(token) == {"alg": "ES256", "typ": "at+jwt", "kid": kid}
    assert verified_claims(token, jwk) == claims


def test_a_token_verifies_only_with_its_own_key_and_unaltered() -> None:
    private = jose.new_private_key()
    token = jose.sign_jwt(private, kid="k", claims={"scope": "read"})
    other = jose.public_jwk(jose.new_private_key().public_key())
    with pytest.raises(InvalidSignature):
        verified_claims(token, other)
    header, _payload, signature = token.split(".")
    forged_payload = jose.b64url(json.dumps({"scope": "admin"}).encode())
    with pytest.raises(InvalidSignature):
        verified_claims(
            f"{header}.{forged_payload}.{signature}", jose.public_jwk(private.public_key())
        )


def test_the_signature_is_raw_r_and_s_not_der() -> None:
    token = jose.sign_jwt(jose.new_private_key(), kid="k", claims={})
    assert len(unb64(token.split(".")[2])) == 64


def test_jwks_document_is_sorted_by_kid_and_compact() -> None:
    a = jose.published_jwk(jose.public_jwk(jose.new_private_key().public_key()), "b-kid")
    b = jose.published_jwk(jose.public_jwk(jose.new_private_key().public_key()), "a-kid")
    text = jose.jwks_document([a, b])
    assert text == jose.jwks_document([b, a])
    assert " " not in text
    keys = json.loads(text)["keys"]
    assert [k["kid"] for k in keys] == ["a-kid", "b-kid"]
    assert all(k["use"] == "sig" and k["alg"] == "ES256" for k in keys)

"""The settings of a token issuer checked before the gateway is handed them: its algorithm
allow-list, its JWKS URI and its inline JWKS (RFC 7517), with RFC 8725's advice applied.

Envoy finds a bad JWKS only when a token arrives (and then answers 401 to every caller);
checked here, the API owner is told on save, naming the key and what is wrong with it.

Pure: text in, normalised values or a `JwksProblem` out. No I/O, no Django.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from extauthz.caller_ids import TOKEN_CLIENT_HEADERS

# Asymmetric algorithms only: with HS* the gateway would hold the issuer's signing secret,
# and `none` signs nothing (RFC 8725 section 3.1 and 3.2).
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
)
DEFAULT_ALGORITHMS = ("RS256",)
DEFAULT_CLIENT_CLAIMS = ("azp", "client_id")
MAX_JWKS_BYTES = 64 * 1024
MIN_RSA_BITS = 2048
# Members that only a private or symmetric key has: a JWKS published to a gateway is public.
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")
# The curves jwt_authn (BoringSSL) verifies, as JWK `crv` names.
_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
}
# Which key an algorithm needs: (kty, crv or "" for any).
_ALGORITHM_KEY = {
    **{a: ("RSA", "") for a in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "EdDSA": ("OKP", "Ed25519"),
}
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


class JwksProblem(ValueError):
    """Why an issuer's setting is refused: `field` is the field at fault, str() the message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def split_words(raw: str | Iterable[str]) -> list[str]:
    """Items of a space-, comma- or newline-separated text (or a list), trimmed, in order."""
    items = re.split(r"[\s,]+", raw) if isinstance(raw, str) else list(raw)
    return [item.strip() for item in items if item.strip()]


def parse_algorithms(raw: str | Iterable[str]) -> tuple[str, ...]:
    """The allow-list, in the order given, without repeats; symmetric algorithms and `none`
    refused in words."""
    found: list[str] = []
    for name in split_words(raw):
        upper = name.upper()
        if upper == "NONE":
            raise JwksProblem(
                "algorithms", "`none` signs nothing: RFC 8725 (3.1) says never to accept it"
            )
        if upper.startswith("HS"):
            raise JwksProblem(
                "algorithms",
                f"{name} is symmetric: the gateway would hold the issuer's signing secret "
                "(RFC 8725, 3.1 and 3.2); use an asymmetric algorithm",
            )
        if name not in ALLOWED_ALGORITHMS:
            raise JwksProblem(
                "algorithms",
                f"unknown algorithm {name[:20]!r}: choose from {' '.join(ALLOWED_ALGORITHMS)}",
            )
        if name not in found:
            found.append(name)
    if not found:
        raise JwksProblem("algorithms", "give at least one algorithm")
    return tuple(found)


def parse_client_claims(raw: str | Iterable[str]) -> tuple[str, ...]:
    """Claim names tried in order to name the client (e.g. `azp client_id`)."""
    found: list[str] = []
    for name in split_words(raw):
        if not _CLAIM_NAME.fullmatch(name):
            raise JwksProblem("client_claims", f"{name[:40]!r} is not a claim name")
        if name not in found:
            found.append(name)
    if not found:
        raise JwksProblem("client_claims", "give at least one claim name, e.g. azp client_id")
    if len(found) > len(TOKEN_CLIENT_HEADERS):
        raise JwksProblem(
            "client_claims",
            f"at most {len(TOKEN_CLIENT_HEADERS)} claim names (the gateway hands on that many)",
        )
    return tuple(found)


def parse_audiences(raw: str | Iterable[str]) -> tuple[str, ...]:
    """Audiences, one per line or comma-separated: exact strings, matched as given."""
    items = re.split(r"[,\n]", raw) if isinstance(raw, str) else list(raw)
    found: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if len(item) > 500 or any(ch.isspace() or ord(ch) < 32 for ch in item):
            raise JwksProblem(
                "audiences", f"{item[:40]!r}: an audience is one word of at most 500 characters"
            )
        if item not in found:
            found.append(item)
    if not found:
        raise JwksProblem("audiences", "give at least one audience (the `aud` tokens carry)")
    return tuple(found)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_jwks_uri(uri: str) -> str:
    """An https URL; http only for a loopback host (a JWKS fetched in clear over a network
    could be swapped for an attacker's keys)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise JwksProblem("jwks_uri", "not a URL") from None
    if not host:
        raise JwksProblem("jwks_uri", "give a URL with a host, e.g. https://idp.example.com/jwks")
    if parts.username or parts.password:
        raise JwksProblem("jwks_uri", "no user or password in the URL")
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http" and _loopback(host):
        return uri
    if parts.scheme == "http":
        raise JwksProblem(
            "jwks_uri", "http is allowed only to a loopback host (localhost, 127.0.0.1, ::1)"
        )
    raise JwksProblem("jwks_uri", "the JWKS URI must be https")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise JwksProblem("jwks_json", f"member {key[:20]!r} appears twice in one object")
        seen[key] = value
    return seen


def _b64url(key: dict[str, Any], member: str, where: str) -> bytes:
    value = key.get(member)
    if not isinstance(value, str) or not value:
        raise JwksProblem("jwks_json", f"{where}: member {member!r} is missing")
    if not _BASE64URL.fullmatch(value):
        raise JwksProblem("jwks_json", f"{where}: member {member!r} is not base64url")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise JwksProblem("jwks_json", f"{where}: member {member!r} is not base64url") from None


def _check_rsa(key: dict[str, Any], where: str) -> None:
    n = int.from_bytes(_b64url(key, "n", where), "big")
    e = int.from_bytes(_b64url(key, "e", where), "big")
    try:
        public = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise JwksProblem("jwks_json", f"{where}: not a valid RSA public key") from None
    if public.key_size < MIN_RSA_BITS:
        raise JwksProblem(
            "jwks_json", f"{where}: RSA key of {public.key_size} bits; at least {MIN_RSA_BITS}"
        )


def _check_ec(key: dict[str, Any], where: str) -> None:
    crv = key.get("crv")
    if crv not in _EC_CURVES:
        raise JwksProblem("jwks_json", f"{where}: EC curve must be P-256 or P-384")
    curve, size = _EC_CURVES[crv]
    x, y = _b64url(key, "x", where), _b64url(key, "y", where)
    if len(x) != size or len(y) != size:
        raise JwksProblem("jwks_json", f"{where}: x and y of a {crv} key are {size} bytes each")
    try:
        ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        ).public_key()
    except ValueError:
        raise JwksProblem("jwks_json", f"{where}: the point is not on curve {crv}") from None


def _check_okp(key: dict[str, Any], where: str) -> None:
    if key.get("crv") != "Ed25519":
        raise JwksProblem("jwks_json", f"{where}: an OKP key must be crv Ed25519")
    x = _b64url(key, "x", where)
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(x)
    except ValueError:
        raise JwksProblem("jwks_json", f"{where}: not a valid Ed25519 public key") from None


def _check_key(key: Any, where: str, algorithms: Sequence[str]) -> None:
    if not isinstance(key, dict):
        raise JwksProblem("jwks_json", f"{where}: a key is a JSON object")
    kty = key.get("kty")
    if kty == "oct":
        raise JwksProblem(
            "jwks_json",
            f"{where}: kty oct is a symmetric key, a secret: never publish it to a gateway",
        )
    if kty not in ("RSA", "EC", "OKP"):
        raise JwksProblem("jwks_json", f"{where}: kty must be RSA, EC or OKP")
    private = [m for m in PRIVATE_MEMBERS if m in key]
    if private:
        raise JwksProblem(
            "jwks_json",
            f"{where}: holds private key members ({', '.join(private)}): publish the public "
            "key only, and treat this private key as leaked",
        )
    kid = key.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise JwksProblem("jwks_json", f"{where}: kid must be a non-empty string")
    use = key.get("use")
    if use is not None and use != "sig":
        raise JwksProblem("jwks_json", f"{where}: use must be sig for a token signing key")
    {"RSA": _check_rsa, "EC": _check_ec, "OKP": _check_okp}[kty](key, where)
    alg = key.get("alg")
    if alg is None:
        return
    if alg not in algorithms:
        raise JwksProblem(
            "jwks_json",
            f"{where}: alg {str(alg)[:20]!r} is not in the issuer's algorithms "
            f"({' '.join(algorithms)})",
        )
    needs_kty, needs_crv = _ALGORITHM_KEY[alg]
    if kty != needs_kty or (needs_crv and key.get("crv") != needs_crv):
        raise JwksProblem(
            "jwks_json",
            f"{where}: alg {alg} needs a {needs_kty} key{' on ' + needs_crv if needs_crv else ''}",
        )


def check_jwks(text: str, algorithms: Sequence[str]) -> int:
    """An inline JWKS the gateway can verify tokens with; returns how many keys it has."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_JWKS_BYTES:
        raise JwksProblem("jwks_json", f"the JWKS is over {MAX_JWKS_BYTES // 1024} KiB")
    try:
        document = json.loads(text, object_pairs_hook=_unique_members)
    except ValueError as exc:
        if isinstance(exc, JwksProblem):
            raise
        raise JwksProblem("jwks_json", "not JSON: give an RFC 7517 JWK Set") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksProblem("jwks_json", 'a JWK Set is an object with a "keys" list (RFC 7517)')
    keys: list[Any] = document["keys"]
    if not keys:
        raise JwksProblem("jwks_json", "the JWK Set has no keys")
    kids: dict[str, int] = {}
    for index, key in enumerate(keys):
        where = f"key {index}"
        _check_key(key, where, algorithms)
        kid = key.get("kid")
        if kid is None and len(keys) > 1:
            raise JwksProblem(
                "jwks_json",
                f"{where}: has no kid; with several keys each needs one, so that a token "
                "names the key it was signed with (RFC 8725)",
            )
        if kid is not None:
            if kid in kids:
                raise JwksProblem(
                    "jwks_json", f"{where}: kid {kid[:40]!r} is also the kid of key {kids[kid]}"
                )
            kids[kid] = index
    return len(keys)

"""The claims of an access token (RFC 9068 §2.2): who issued it, to which client, for
which audience, when, and with which scopes."""

import secrets
from collections.abc import Sequence
from typing import Any


def new_jti() -> str:
    """128 random bits: unique per token, so a gateway may refuse a replayed one."""
    return secrets.token_urlsafe(16)


def access_token_claims(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scopes: Sequence[str],
    now: int,
    lifetime_seconds: int,
    jti: str,
) -> dict[str, Any]:
    """`sub` is the client itself (RFC 9068 §2.2: no resource owner in this grant). The
    `scope` claim is left out when no scope was granted: a token with no scope carries none,
    rather than an empty string a verifier might split into one empty scope."""
    if lifetime_seconds <= 0:
        raise ValueError("a token lives for a positive number of seconds")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": client_id,
        "client_id": client_id,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "jti": jti,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return claims

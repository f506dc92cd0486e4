"""What the sidecar checks of a bearer token that Envoy's jwt_authn already verified: the
RFC 8725 rules jwt_authn has no setting for (the issuer's algorithm allow-list, `kid` when
the issuer asks for it) and the route's scopes. Pure; the JOSE header is parsed once per
distinct value (a client sends the same header on every token of a key).
"""

import base64
import binascii
import json
from typing import Final

from extauthz.route_context import TokenPolicy

_CACHE_SIZE: Final = 4096
# A JOSE header of a real token is a few dozen bytes; anything larger is not parsed.
_MAX_HEADER_CHARS: Final = 2048

# (alg, kid) of a JOSE header segment; ("", "") when unreadable.
_headers: dict[str, tuple[str, str]] = {}


def jose_header(token: str) -> tuple[str, str]:
    """`alg` and `kid` of a compact JWS's protected header ("" for a missing member)."""
    segment = token.partition(".")[0]
    cached = _headers.get(segment)
    if cached is not None:
        return cached
    parsed = _parse(segment)
    if len(_headers) >= _CACHE_SIZE:
        _headers.clear()
    _headers[segment] = parsed
    return parsed


def _parse(segment: str) -> tuple[str, str]:
    if len(segment) > _MAX_HEADER_CHARS or not segment.isascii():
        return ("", "")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return ("", "")
    if not isinstance(document, dict):
        return ("", "")
    alg, kid = document.get("alg"), document.get("kid")
    return (alg if isinstance(alg, str) else "", kid if isinstance(kid, str) else "")


def header_error(token: str, policy: TokenPolicy) -> str:
    """Why the token's header breaks its issuer's policy, or "" when it does not."""
    alg, kid = jose_header(token)
    if alg not in policy.algorithms:
        accepted = ", ".join(sorted(policy.algorithms))
        return f"the token's algorithm is not accepted for its issuer (accepted: {accepted})"
    if policy.kid_required and not kid:
        return "the token names no key (kid): its issuer publishes several"
    return ""


def missing_scope(required: tuple[str, ...], granted: str) -> str:
    """The first required scope the token's space-separated `scope` lacks, or ""."""
    if not required:
        return ""
    held = granted.split()
    for scope in required:
        if scope not in held:
            return scope
    return ""

"""What the sidecar checks of a bearer token that Envoy's jwt_authn already verified: the
RFC 8725 rules jwt_authn has no setting for (the issuer's algorithm allow-list, `kid` when
the issuer asks for it), read from the JOSE header jwt_authn itself verified; and scopes.
Pure.
"""

from collections.abc import Collection

from extauthz.route_context import TokenPolicy


def header_error(alg: str, kid: str, policy: TokenPolicy) -> str:
    """Why the verified token's header breaks its issuer's policy, or "" when it does not."""
    if alg not in policy.algorithms:
        accepted = ", ".join(sorted(policy.algorithms))
        return f"the token's algorithm is not accepted for its issuer (accepted: {accepted})"
    if policy.kid_required and not kid:
        return "the token names no key (kid): its issuer publishes several"
    return ""


def missing_scope(required: tuple[str, ...], held: Collection[str]) -> str:
    """The first required scope not held, or ""."""
    for scope in required:
        if scope not in held:
            return scope
    return ""

"""The client credentials grant (RFC 6749 §4.4): authenticate the client, negotiate the
scope, sign the token. Everything the token endpoint does but HTTP."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from mgmt.oauth import claims, credentials, jose, scopes, selectors, signing_keys
from mgmt.oauth.client_auth import PresentedClient
from mgmt.oauth.errors import INVALID_CLIENT, INVALID_SCOPE, OAuthError
from mgmt.oauth.models import OAuthClient, OAuthClientSecret
from mgmt.oauth.token_request import TokenRequest, check_grant_type

# Hashed in place of a secret that has no row, so that an unknown client or secret id costs
# what a wrong secret costs.
_NO_HASH = bytes(32)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def authenticate(presented: PresentedClient, now: datetime) -> OAuthClient:
    """The client, when the secret is one of its working secrets. One answer for every
    failure (unknown or revoked client, malformed, wrong, expired or revoked secret), so
    that the endpoint is no oracle for which part was wrong."""
    refused = OAuthError(
        INVALID_CLIENT,
        "client authentication failed",
        basic_challenge=presented.method == "client_secret_basic",
    )
    secret_id = credentials.secret_id_of(presented.client_secret)
    row = (
        OAuthClientSecret.objects.select_related("client__application")
        .filter(secret_id=secret_id, client__client_id=presented.client_id)
        .first()
        if secret_id is not None
        else None
    )
    matches = credentials.secret_matches(
        presented.client_secret, bytes(row.secret_hash) if row is not None else _NO_HASH
    )
    if row is None or not matches or not row.is_usable(now) or row.client.is_revoked(now):
        raise refused
    return row.client


def grant(request: TokenRequest, now: datetime) -> IssuedToken:
    """Raises OAuthError for the §5.2 errors, signing_keys.NoSigningKey or NoSealingKey when
    the server cannot sign."""
    client = authenticate(request.client, now)
    check_grant_type(request.grant_type)
    try:
        granted = scopes.granted_scopes(request.scope, selectors.allowed_scopes(client.application))
    except scopes.ScopeRefused as refused:
        raise OAuthError(INVALID_SCOPE, str(refused)) from None
    signer = signing_keys.signer(now)
    lifetime = settings.TOLLGATE_OAUTH_TOKEN_SECONDS
    token_claims = claims.access_token_claims(
        issuer=settings.TOLLGATE_OAUTH_ISSUER,
        audience=settings.TOLLGATE_OAUTH_AUDIENCE,
        client_id=client.client_id,
        scopes=granted,
        now=int(now.timestamp()),
        lifetime_seconds=lifetime,
        jti=claims.new_jti(),
    )
    token = jose.sign_jwt(signer.private_key, kid=signer.kid, claims=token_claims)
    return IssuedToken(token, lifetime, " ".join(granted))

"""Reads: the scopes an application may be granted, and the compiler's rows for Tollgate's
own token issuer and its clients."""

from datetime import datetime

from django.conf import settings

from mgmt.compiler.inputs import TokenClientRow, TokenIssuerRow
from mgmt.compiler.token_auth import OWN_ISSUER_NAME
from mgmt.developers.errors import NotFound
from mgmt.gateway.models import Application, Plan, Subscription
from mgmt.gateway.validators import split_scopes
from mgmt.oauth import jose, signing_keys
from mgmt.oauth.models import OAuthClient, OAuthClientSecret

ISSUER_NAME = OWN_ISSUER_NAME


def allowed_scopes(application: Application) -> set[str]:
    """The scopes the plans of the application's active subscriptions grant (the API owner
    decides them on the plan; a subscriber cannot widen them)."""
    raw = Plan.objects.filter(
        subscriptions__application=application,
        subscriptions__state=Subscription.State.ACTIVE,
    ).values_list("granted_scopes", flat=True)
    return {scope for field in raw for scope in split_scopes(field)}


def issuer_row(now: datetime) -> TokenIssuerRow | None:
    """Tollgate's own issuer, its JWKS inline; None before it has any signing key."""
    jwks = signing_keys.jwks_json(now)
    if not signing_keys.published_keys(now):
        return None  # no key a verifier needs: an empty JWKS would refuse the whole snapshot
    return TokenIssuerRow(
        name=ISSUER_NAME,
        issuer=settings.TOLLGATE_OAUTH_ISSUER,
        audiences=(settings.TOLLGATE_OAUTH_AUDIENCE,),
        jwks_json=jwks,
        algorithms=(jose.ALGORITHM,),
        leeway_seconds=int(signing_keys.LEEWAY.total_seconds()),
        client_claims=("client_id",),
        every_api=True,
    )


def client_rows() -> tuple[TokenClientRow, ...]:
    """Every client, revoked ones too (the gateway refuses their tokens), by client id."""
    return tuple(
        TokenClientRow(
            issuer=settings.TOLLGATE_OAUTH_ISSUER,
            client_id=client_id,
            application_id=application_id,
            revoked_at=0 if revoked_at is None else int(revoked_at.timestamp()),
        )
        for client_id, application_id, revoked_at in OAuthClient.objects.order_by(
            "client_id"
        ).values_list("client_id", "application_id", "revoked_at")
    )


def open_client(application: Application) -> OAuthClient:
    """The application's unrevoked client, or NotFound (a revoked one is history)."""
    found = OAuthClient.objects.filter(application=application, revoked_at__isnull=True).first()
    if found is None:
        raise NotFound("this application has no OAuth client")
    return found


def client_secret(client: OAuthClient, secret_id: str) -> OAuthClientSecret:
    found = client.secrets.filter(secret_id=secret_id).first()
    if found is None:
        raise NotFound("no such secret")
    return found

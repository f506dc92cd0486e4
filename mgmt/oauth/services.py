"""Writes on OAuth clients and their secrets: create a client, issue, rotate and revoke
secrets, revoke a client. Refusals are mgmt.developers errors, which the developer API and
the portal already turn into answers a partner can act on."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from mgmt.developers.errors import invalid
from mgmt.gateway.models import Application
from mgmt.oauth import credentials
from mgmt.oauth.models import OAuthClient, OAuthClientSecret

MAX_OPEN_SECRETS_PER_CLIENT = 5
# A rotation's overlap: long enough to roll a fleet, short enough to matter (as for keys).
MAX_ROTATION_OVERLAP = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """The stored secret and its clear text, which exists only here and is shown once."""

    row: OAuthClientSecret
    secret: str


@dataclass(frozen=True, slots=True)
class IssuedClient:
    client: OAuthClient
    secret: IssuedSecret


def _new_secret(client: OAuthClient) -> IssuedSecret:
    issued = credentials.issue_secret()
    row = OAuthClientSecret.objects.create(
        client=client, secret_id=issued.secret_id, secret_hash=issued.secret_hash
    )
    return IssuedSecret(row, issued.secret)


@transaction.atomic
def create_client(*, application: Application) -> IssuedClient:
    """The application's client and its first secret. Call this from tests and tools to get
    a working client id and secret."""
    Application.objects.select_for_update().filter(pk=application.pk).first()
    if OAuthClient.objects.filter(application=application, revoked_at__isnull=True).exists():
        raise invalid("application", "this application has an OAuth client already")
    try:
        with transaction.atomic():
            client = OAuthClient.objects.create(
                application=application, client_id=credentials.new_client_id()
            )
    except IntegrityError:
        raise invalid("application", "this application has an OAuth client already") from None
    return IssuedClient(client, _new_secret(client))


def _open_secrets(client: OAuthClient, now: datetime) -> int:
    return client.secrets.filter(revoked_at__isnull=True).exclude(expires_at__lte=now).count()


@transaction.atomic
def issue_secret(*, client: OAuthClient) -> IssuedSecret:
    locked = OAuthClient.objects.select_for_update().get(pk=client.pk)
    now = timezone.now()
    if locked.is_revoked(now):
        raise invalid("client", "this client is revoked")
    if _open_secrets(locked, now) >= MAX_OPEN_SECRETS_PER_CLIENT:
        raise invalid(
            "client",
            f"a client holds at most {MAX_OPEN_SECRETS_PER_CLIENT} working secrets: revoke one",
        )
    return _new_secret(locked)


@transaction.atomic
def rotate_secret(
    *, secret: OAuthClientSecret, overlap_seconds: int, now: datetime | None = None
) -> IssuedSecret:
    """A new secret for the same client; the old one keeps working for the overlap and then
    expires by itself (checked at each token request, so no job is needed)."""
    now = now or timezone.now()
    overlap = timedelta(seconds=overlap_seconds)
    if not timedelta(0) <= overlap <= MAX_ROTATION_OVERLAP:
        raise invalid("overlap_seconds", f"the overlap is 0 to {MAX_ROTATION_OVERLAP.days} days")
    old = OAuthClientSecret.objects.select_for_update().select_related("client").get(pk=secret.pk)
    if not old.is_usable(now):
        raise invalid("secret", "this secret is revoked or expired: issue a new one instead")
    if old.client.is_revoked(now):
        raise invalid("client", "this client is revoked")
    if _open_secrets(old.client, now) >= MAX_OPEN_SECRETS_PER_CLIENT:
        raise invalid(
            "secret",
            f"a client holds at most {MAX_OPEN_SECRETS_PER_CLIENT} working secrets: revoke one",
        )
    issued = _new_secret(old.client)
    ends = now + overlap
    if old.expires_at is None or old.expires_at > ends:
        old.expires_at = ends
        old.save(update_fields=["expires_at"])
    return issued


@transaction.atomic
def revoke_secret(*, secret: OAuthClientSecret) -> OAuthClientSecret:
    """At once, and never undone; tokens it already obtained live out their short life."""
    if secret.revoked_at is None:
        secret.revoked_at = timezone.now()
        secret.save(update_fields=["revoked_at"])
    return secret


@transaction.atomic
def revoke_client(*, client: OAuthClient) -> OAuthClient:
    """No new tokens at once; the gateways refuse its live tokens from the next snapshot
    (the client's revocation time is in it). The application may create a new client."""
    if client.revoked_at is None:
        now = timezone.now()
        client.revoked_at = now
        client.save(update_fields=["revoked_at"])
        client.secrets.filter(revoked_at__isnull=True).update(revoked_at=now)
    return client

"""A committed change to a signing key (the JWKS) or a client (the clients the gateway maps
to applications) publishes a new snapshot. Secrets are not in snapshots: no publication."""

from mgmt.gateway.signals import publish_on_changes
from mgmt.oauth.models import OAuthClient, SigningKey


def connect() -> None:
    publish_on_changes(SigningKey, OAuthClient)

"""A committed change to a signing key (the JWKS) or a client (the clients the gateway maps
to applications) publishes a new snapshot. Secrets are not in snapshots: no publication."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from mgmt.gateway import publishing
from mgmt.oauth.models import OAuthClient, SigningKey


def _changed(sender: type, **_: Any) -> None:
    if settings.TOLLGATE_AUTO_PUBLISH:
        publishing.publish_on_commit()


def connect() -> None:
    post_save.connect(_changed, sender=SigningKey, dispatch_uid="publish-oauth-key-save")
    post_delete.connect(_changed, sender=SigningKey, dispatch_uid="publish-oauth-key-delete")
    post_save.connect(_changed, sender=OAuthClient, dispatch_uid="publish-oauth-client-save")
    post_delete.connect(_changed, sender=OAuthClient, dispatch_uid="publish-oauth-client-delete")

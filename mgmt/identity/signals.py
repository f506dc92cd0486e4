"""A committed change to an issuer, its clients, its APIs or a client certificate publishes
a new snapshot, so a revocation reaches the gateway within seconds."""

from typing import Any

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save

from mgmt.gateway import publishing
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer


def _changed(sender: type, **_: Any) -> None:
    if settings.TOLLGATE_AUTO_PUBLISH:
        publishing.publish_on_commit()


def connect() -> None:
    for model in (TokenIssuer, TokenClient, ClientCertificate):
        name = model.__name__
        post_save.connect(_changed, sender=model, dispatch_uid=f"publish-{name}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"publish-{name}-delete")
    # Which APIs accept an issuer's tokens is a table of its own: saving it sends no post_save.
    m2m_changed.connect(
        _changed, sender=TokenIssuer.apis.through, dispatch_uid="publish-TokenIssuer-apis"
    )

"""A committed change to an issuer, its clients, its APIs or a client certificate publishes
a new snapshot, so a revocation reaches the gateway within seconds."""

from django.db.models.signals import m2m_changed

from mgmt.gateway.signals import changed, publish_on_changes
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer


def connect() -> None:
    publish_on_changes(TokenIssuer, TokenClient, ClientCertificate)
    # Which APIs accept an issuer's tokens is a table of its own: saving it sends no post_save.
    m2m_changed.connect(
        changed, sender=TokenIssuer.apis.through, dispatch_uid="publish-TokenIssuer-apis"
    )

"""A committed change to a certificate or an upstream's TLS publishes a new snapshot."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from mgmt.gateway import publishing
from mgmt.tls.models import ServerCertificate, UpstreamTls


def _changed(sender: type, **_: Any) -> None:
    if settings.TOLLGATE_AUTO_PUBLISH:
        publishing.publish_on_commit()


def connect() -> None:
    post_save.connect(_changed, sender=ServerCertificate, dispatch_uid="publish-cert-save")
    post_delete.connect(_changed, sender=ServerCertificate, dispatch_uid="publish-cert-delete")
    post_save.connect(_changed, sender=UpstreamTls, dispatch_uid="publish-upstream-tls-save")
    post_delete.connect(_changed, sender=UpstreamTls, dispatch_uid="publish-upstream-tls-delete")

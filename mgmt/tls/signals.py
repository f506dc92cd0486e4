"""A committed change to a certificate publishes a new snapshot (its SDS secret)."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from mgmt.gateway import publishing
from mgmt.tls.models import ServerCertificate


def _changed(sender: type, **_: Any) -> None:
    if settings.TOLLGATE_AUTO_PUBLISH:
        publishing.publish_on_commit()


def connect() -> None:
    post_save.connect(_changed, sender=ServerCertificate, dispatch_uid="publish-cert-save")
    post_delete.connect(_changed, sender=ServerCertificate, dispatch_uid="publish-cert-delete")

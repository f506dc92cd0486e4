"""A price added or removed changes which subscriptions are metered: a new snapshot."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from mgmt.billing.models import PlanPrice
from mgmt.gateway import publishing


def _changed(sender: type, **_: Any) -> None:
    if settings.TOLLGATE_AUTO_PUBLISH:
        publishing.publish_on_commit()


def connect() -> None:
    post_save.connect(_changed, sender=PlanPrice, dispatch_uid="publish-PlanPrice-save")
    post_delete.connect(_changed, sender=PlanPrice, dispatch_uid="publish-PlanPrice-delete")

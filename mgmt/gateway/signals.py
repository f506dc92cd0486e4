"""Every committed change to a model that shapes the gateway publishes a new snapshot."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from mgmt.gateway import models, publishing

_SHAPES_THE_GATEWAY = (
    models.Organization,
    models.Product,
    models.Api,
    models.ApiVersion,
    models.Route,
    models.Upstream,
    models.Endpoint,
    models.Plan,
    models.PlanRateLimit,
    models.Application,
    models.ApiKey,
    models.Subscription,
    models.SubscriptionRateLimit,
)
# last_used_at is bookkeeping; writing it must not recompile the gateway.
_BOOKKEEPING_FIELDS = frozenset({"last_used_at"})


def _changed(sender: type, update_fields: frozenset[str] | None = None, **_: Any) -> None:
    if not settings.TOLLGATE_AUTO_PUBLISH:
        return
    if update_fields is not None and set(update_fields) <= _BOOKKEEPING_FIELDS:
        return
    publishing.publish_on_commit()


def connect() -> None:
    for model in _SHAPES_THE_GATEWAY:
        post_save.connect(_changed, sender=model, dispatch_uid=f"publish-{model.__name__}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"publish-{model.__name__}-delete")

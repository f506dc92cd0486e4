"""Every committed change to a model that shapes the gateway publishes a new snapshot; every
published snapshot wakes the snapshot requests xds_server holds once it commits."""

from typing import Any

from django.conf import settings
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from mgmt.gateway import models, publishing, snapshot_feed

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


def changed(sender: type, update_fields: frozenset[str] | None = None, **_: Any) -> None:
    """A receiver for any signal that means the compiled gateway may change."""
    if not settings.TOLLGATE_AUTO_PUBLISH:
        return
    if update_fields is not None and set(update_fields) <= _BOOKKEEPING_FIELDS:
        return
    publishing.publish_on_commit()


def publish_on_changes(*shaping: type[Model]) -> None:
    """A committed save or delete of any of these models publishes a snapshot (the other
    apps whose rows the compiler reads connect theirs with this)."""
    for model in shaping:
        label = model._meta.label
        post_save.connect(changed, sender=model, dispatch_uid=f"publish-{label}-save")
        post_delete.connect(changed, sender=model, dispatch_uid=f"publish-{label}-delete")


def snapshot_stored(instance: models.Snapshot, created: bool, **_: Any) -> None:
    """However a published snapshot was stored (the publisher, a shell, a test)."""
    if created and instance.status == models.Snapshot.Status.PUBLISHED:
        snapshot_feed.announce_on_commit()


def connect() -> None:
    publish_on_changes(*_SHAPES_THE_GATEWAY)
    post_save.connect(snapshot_stored, sender=models.Snapshot, dispatch_uid="snapshot-announce")

"""A price added or removed changes which subscriptions are metered: a new snapshot. A
subscription moved to another plan cuts its open period's segment once the move commits."""

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import pre_save
from django.utils import timezone

from mgmt.billing.models import PlanPrice
from mgmt.billing.plan_changes import cut_segment
from mgmt.gateway.models import Subscription
from mgmt.gateway.signals import publish_on_changes


def _plan_before(sender: type, instance: Subscription, **_: Any) -> None:
    if instance.pk is None:
        return
    before = Subscription.objects.filter(pk=instance.pk).values_list("plan_id", flat=True).first()
    if before is not None and before != instance.plan_id:
        transaction.on_commit(partial(_cut, instance.pk))


def _cut(subscription_id: int) -> None:
    subscription = Subscription.objects.select_related("plan").filter(pk=subscription_id).first()
    if subscription is not None:
        cut_segment(subscription, timezone.now())


def connect() -> None:
    pre_save.connect(_plan_before, sender=Subscription, dispatch_uid="billing-plan-change")
    publish_on_changes(PlanPrice)

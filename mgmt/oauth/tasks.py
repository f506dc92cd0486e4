"""Celery task: the signing key schedule, run by beat. Idempotent: a second run finds
nothing due and nothing to drop."""

from celery import shared_task
from django.utils import timezone

from mgmt.oauth import signing_keys


@shared_task(
    name="tollgate.oauth.rotate_signing_keys",
    acks_late=True,
    time_limit=120,
    soft_time_limit=90,
    ignore_result=True,
)
def rotate_signing_keys() -> dict[str, object]:
    """Make the first key, rotate the current one when it is old, drop retired keys whose
    tokens have all expired."""
    now = timezone.now()
    created = signing_keys.rotate(now=now)
    dropped = signing_keys.drop_expired(now=now)
    return {"created": created.kid if created else None, "dropped": dropped}

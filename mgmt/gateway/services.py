"""Writes that carry domain rules: issuing and revoking keys, recording what Envoy did."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from extauthz.keys import issue_key
from mgmt.gateway.models import ApiKey, Application, SnapshotRejection, XdsNodeStatus


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """The stored key and its secret, which exists only here and is shown once."""

    api_key: ApiKey
    secret: str


@transaction.atomic
def create_api_key(
    *, application: Application, label: str = "", expires_at: datetime | None = None
) -> IssuedApiKey:
    issued = issue_key()
    api_key = ApiKey.objects.create(
        application=application,
        label=label,
        key_id=issued.key_id,
        key_hash=issued.key_hash,
        expires_at=expires_at,
    )
    return IssuedApiKey(api_key, issued.secret)


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, at: datetime | None = None) -> ApiKey:
    """Revocation takes effect at once (the next snapshot), and is never undone."""
    if api_key.revoked_at is None:
        api_key.revoked_at = at or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


# A rotation's overlap: long enough to roll a fleet, short enough to matter.
MAX_ROTATION_OVERLAP = timedelta(days=30)


@transaction.atomic
def rotate_api_key(
    *, api_key: ApiKey, overlap: timedelta, now: datetime | None = None
) -> IssuedApiKey:
    """A new key for the same application; the old one keeps working for `overlap` and then
    expires on its own (ext_authz enforces expiry by the second, so no job is needed)."""
    now = now or timezone.now()
    if not timedelta(0) <= overlap <= MAX_ROTATION_OVERLAP:
        raise ValueError(f"the overlap is 0 to {MAX_ROTATION_OVERLAP.days} days")
    old = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not old.is_usable(now):
        raise ValueError("this key is revoked or expired: issue a new key instead")
    # The new key lives as long as the old one was meant to: a rotation renews a key, it
    # does not turn a key that expires into one that never does.
    lifetime = None if old.expires_at is None else old.expires_at - old.created_at
    issued = create_api_key(
        application=old.application,
        label=old.label,
        expires_at=None if lifetime is None else now + lifetime,
    )
    issued.api_key.rotated_from = old
    issued.api_key.save(update_fields=["rotated_from"])
    ends = now + overlap
    if old.expires_at is None or old.expires_at > ends:
        old.expires_at = ends
        old.save(update_fields=["expires_at"])
    return issued


@dataclass(frozen=True, slots=True)
class XdsEvent:
    kind: str  # "ack" | "nack"
    node_id: str
    node_cluster: str
    type_url: str
    version: str
    error: str
    at: datetime


@transaction.atomic
def record_xds_events(*, events: list[XdsEvent]) -> None:
    for event in events:
        status, _ = XdsNodeStatus.objects.select_for_update().get_or_create(
            node_id=event.node_id,
            type_url=event.type_url,
            defaults={"node_cluster": event.node_cluster, "updated_at": event.at},
        )
        status.node_cluster = event.node_cluster
        status.updated_at = event.at
        if event.kind == "ack":
            status.acked_version = event.version
        else:
            status.nacked_version = event.version
            status.last_error = event.error
            SnapshotRejection.objects.create(
                version=event.version,
                node_id=event.node_id,
                node_cluster=event.node_cluster,
                type_url=event.type_url,
                error=event.error,
                at=event.at,
            )
        status.save()

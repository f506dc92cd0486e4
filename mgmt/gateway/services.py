"""Writes that carry domain rules: issuing and revoking keys, recording what Envoy did."""

from dataclasses import dataclass
from datetime import datetime

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

"""Whether the connected gateways have acknowledged a snapshot (mgmt.controlplane.rollout
defines "connected"), and a bounded wait for it that holds no transaction and no lock:
a few indexed reads every 50 ms."""

import time
from collections.abc import Callable
from datetime import timedelta

from django.db import connection

from mgmt.controlplane.rollout import NodeAck, Rollout, rollout
from mgmt.gateway.models import Snapshot, XdsNodeStatus

# A node that acknowledged nothing published in this long before a snapshot is gone.
HORIZON = timedelta(minutes=10)
POLL_SECONDS = 0.05


def rollout_of(snapshot: Snapshot) -> Rollout:
    published = Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).order_by("-pk")
    horizon = snapshot.created_at - HORIZON
    before = published.filter(pk__lt=snapshot.pk)
    earlier = list(before.filter(created_at__gte=horizon).values_list("type_versions", flat=True))
    live_at_horizon = before.filter(created_at__lt=horizon).values_list("type_versions", flat=True)
    later = published.filter(pk__gt=snapshot.pk).values_list("type_versions", flat=True)
    acks = XdsNodeStatus.objects.filter(type_url__in=list(snapshot.type_versions)).values_list(
        "node_id", "type_url", "acked_version"
    )
    return rollout(
        snapshot.type_versions,
        earlier + list(live_at_horizon[:1]),
        list(later),
        [NodeAck(*row) for row in acks],
    )


def wait_for_rollout(
    snapshot: Snapshot,
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Rollout:
    """Polls until every connected node has `snapshot`, or `timeout` seconds have passed."""
    if connection.in_atomic_block:
        raise RuntimeError("waiting for gateways inside a transaction would hold it open")
    deadline = clock() + timeout
    while True:
        state = rollout_of(snapshot)
        left = deadline - clock()
        if state.live or left <= 0:
            return state
        sleep(min(POLL_SECONDS, left))

"""The retention task on PostgreSQL: it deletes old history, keeps what describes running
nodes and the live configuration, and a second run deletes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mgmt.gateway.models import Snapshot, SnapshotRejection, XdsNodeStatus
from mgmt.gateway.tasks import run_retention

pytestmark = [pytest.mark.db, pytest.mark.django_db]

LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


@pytest.fixture(autouse=True)
def _keep(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TOLLGATE_KEEP_PUBLISHED_SNAPSHOTS = 3
    settings.TOLLGATE_KEEP_REFUSED_SNAPSHOTS = 2
    settings.TOLLGATE_KEEP_XDS_HISTORY_DAYS = 7


def _published(n: int) -> Snapshot:
    return Snapshot.objects.create(
        version=f"v{n}",
        status=Snapshot.Status.PUBLISHED,
        payload=b"x",
        type_versions={LDS: f"l{n}", CDS: "c1"},
    )


def _status(node: str, type_url: str, acked: str, days_ago: float) -> XdsNodeStatus:
    return XdsNodeStatus.objects.create(
        node_id=node,
        type_url=type_url,
        acked_version=acked,
        updated_at=timezone.now() - timedelta(days=days_ago),
    )


def _rejection(version: str, days_ago: float) -> SnapshotRejection:
    return SnapshotRejection.objects.create(
        version=version,
        node_id="gateway-1",
        type_url=LDS,
        error="bad",
        at=timezone.now() - timedelta(days=days_ago),
    )


def test_retention_keeps_what_runs_and_what_is_live_and_a_second_run_deletes_nothing():
    snapshots = [_published(n) for n in range(1, 21)]
    refused = [
        Snapshot.objects.create(version="", status=Snapshot.Status.REFUSED, errors="no")
        for _ in range(5)
    ]
    live = snapshots[-1]
    stuck = _status("gateway-old", LDS, "l4", days_ago=1)  # a node still runs snapshot 4
    gone = _status("gateway-gone", LDS, "l2", days_ago=30)  # went away a month ago
    quiet = _status("gateway-1", LDS, "l20", days_ago=30)  # on the live version, quiet
    old_nack = _rejection("l3", days_ago=30)
    live_nack = _rejection("l20", days_ago=30)
    fresh_nack = _rejection("l5", days_ago=1)

    report = run_retention()

    kept = set(Snapshot.objects.values_list("pk", flat=True))
    assert kept == {live.pk, snapshots[-2].pk, snapshots[-3].pk, snapshots[3].pk} | {
        r.pk for r in refused[-2:]
    }
    assert set(XdsNodeStatus.objects.values_list("pk", flat=True)) == {stuck.pk, quiet.pk}
    assert gone.pk not in kept
    assert set(SnapshotRejection.objects.values_list("pk", flat=True)) == {
        live_nack.pk,
        fresh_nack.pk,
    }
    assert old_nack.pk not in kept
    assert report == {"snapshots": 16 + 3, "statuses": 1, "rejections": 1}

    assert run_retention() == {"snapshots": 0, "statuses": 0, "rejections": 0}
    assert Snapshot.objects.count() == 6


def test_retention_on_an_empty_database_does_nothing():
    assert run_retention() == {"snapshots": 0, "statuses": 0, "rejections": 0}

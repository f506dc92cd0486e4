"""The retention job: deletes the snapshots, node statuses and NACKs that
mgmt.controlplane.retention selects. Idempotent: a second run finds nothing more, and a
snapshot published while it runs is never among what it deletes."""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db.models import Model, QuerySet

from mgmt.controlplane import retention
from mgmt.gateway.models import Snapshot, SnapshotRejection, XdsNodeStatus

_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class RetentionReport:
    snapshots: int
    statuses: int
    rejections: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _delete(rows: "QuerySet[Model]", ids: set[int]) -> int:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        rows.filter(pk__in=ordered[start : start + _CHUNK]).delete()
    return len(ordered)


def run(
    *, now: datetime, keep_published: int, keep_refused: int, history_days: int
) -> RetentionReport:
    stored = [
        retention.StoredSnapshot(pk, status == Snapshot.Status.PUBLISHED, type_versions)
        for pk, status, type_versions in Snapshot.objects.values_list(
            "pk", "status", "type_versions"
        )
    ]
    live = retention.live_versions(stored)
    cutoff = now - timedelta(days=history_days)
    statuses = [
        retention.NodeRecord(*row)
        for row in XdsNodeStatus.objects.values_list(
            "pk", "type_url", "acked_version", "updated_at"
        )
    ]
    gone = retention.statuses_to_delete(statuses, live, older_than=cutoff)
    # What the remaining nodes run (a node that went away runs nothing worth keeping).
    running = {(s.type_url, s.version) for s in statuses if s.id not in gone and s.version}
    rejections = [
        retention.NodeRecord(*row)
        for row in SnapshotRejection.objects.filter(at__lt=cutoff).values_list(
            "pk", "type_url", "version", "at"
        )
    ]
    return RetentionReport(
        snapshots=_delete(
            Snapshot.objects.all(),
            retention.snapshots_to_delete(
                stored, running, keep_published=keep_published, keep_refused=keep_refused
            ),
        ),
        statuses=_delete(XdsNodeStatus.objects.all(), gone),
        rejections=_delete(
            SnapshotRejection.objects.all(),
            retention.rejections_to_delete(rejections, live, older_than=cutoff),
        ),
    )

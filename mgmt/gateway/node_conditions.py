"""Degraded states nodes report (through xds_server), and what admin's banner shows of them."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.db import transaction
from django.utils import timezone

from mgmt.gateway.models import NodeCondition

# Nodes repeat an active report every 30 s; one not heard from for this long went silent
# (crashed, or cut off): the banner says so instead of showing it as still degraded.
SILENT_AFTER: Final = timedelta(seconds=90)


@dataclass(frozen=True)
class Reported:
    node_id: str
    name: str
    active: bool
    since: datetime
    detail: str


@transaction.atomic
def record(conditions: list[Reported], now: datetime | None = None) -> None:
    """Upsert each report. A clearing ends only the episode it names (a late clear of an
    earlier outage never hides a newer one)."""
    now = now or timezone.now()
    for report in conditions:
        row = (
            NodeCondition.objects.select_for_update()
            .filter(node_id=report.node_id, name=report.name)
            .first()
        )
        if row is None:
            if report.active:
                NodeCondition.objects.create(
                    node_id=report.node_id,
                    name=report.name,
                    active=True,
                    since=report.since,
                    detail=report.detail,
                    reported_at=now,
                )
            continue
        if report.active:
            if not row.active or row.since != report.since:
                row.since, row.cleared_at = report.since, None
            row.active, row.detail, row.reported_at = True, report.detail, now
        elif row.active and report.since >= row.since:
            row.active, row.cleared_at, row.reported_at = False, now, now
        else:
            continue
        row.save()


@dataclass(frozen=True)
class BannerLine:
    node_id: str
    name: str
    since: datetime
    detail: str
    silent: bool  # no report for SILENT_AFTER: the node may be down, or cut off from us


def banner(now: datetime | None = None) -> list[BannerLine]:
    """Every active condition, oldest first."""
    now = now or timezone.now()
    return [
        BannerLine(c.node_id, c.name, c.since, c.detail, now - c.reported_at > SILENT_AFTER)
        for c in NodeCondition.objects.filter(active=True).order_by("since")[:20]
    ]

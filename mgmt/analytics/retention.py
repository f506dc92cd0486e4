"""The analytics retention job: deletes usage rows past their resolution's retention, in
bounded batches; API-level rows go with their resolution's, coverage and fold batches
with the minute rows. Idempotent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Final

from django.db import models

from mgmt.analytics.models import (
    ApiUsageDay,
    ApiUsageHour,
    ApiUsageMinute,
    Coverage,
    FoldBatch,
    UsageDay,
    UsageHour,
    UsageMinute,
)
from mgmt.analytics.retention_rules import Retention, cutoffs

BATCH: Final = 5000
# At most this many batches per table per run: a run stays short, and after a long pause
# the next runs catch up.
MAX_BATCHES: Final = 200


@dataclass(frozen=True, slots=True)
class RetentionReport:
    minutes: int
    hours: int
    days: int
    api_minutes: int
    api_hours: int
    api_days: int
    coverage: int
    fold_batches: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run(*, now: datetime, retention: Retention, batch: int = BATCH) -> RetentionReport:
    cut = cutoffs(retention, now)
    return RetentionReport(
        minutes=_delete(UsageMinute.objects.filter(bucket__lt=cut.minutes), batch),
        hours=_delete(UsageHour.objects.filter(bucket__lt=cut.hours), batch),
        days=_delete(UsageDay.objects.filter(bucket__lt=cut.days), batch) if cut.days else 0,
        api_minutes=_delete(ApiUsageMinute.objects.filter(bucket__lt=cut.minutes), batch),
        api_hours=_delete(ApiUsageHour.objects.filter(bucket__lt=cut.hours), batch),
        api_days=(
            _delete(ApiUsageDay.objects.filter(bucket__lt=cut.days), batch) if cut.days else 0
        ),
        coverage=_delete(Coverage.objects.filter(bucket__lt=cut.minutes), batch),
        fold_batches=_delete(FoldBatch.objects.filter(folded_at__lt=cut.minutes), batch),
    )


def _delete(rows: models.QuerySet[models.Model], batch: int) -> int:
    """Deletes `rows` `batch` at a time, each its own short statement (no long lock)."""
    deleted = 0
    for _ in range(MAX_BATCHES):
        ids = rows.order_by().values("pk")[:batch]
        count, _by_model = rows.model._default_manager.filter(pk__in=ids).delete()
        deleted += count
        if count < batch:
            break
    return deleted

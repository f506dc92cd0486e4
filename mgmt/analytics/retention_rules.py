"""How long usage is kept per resolution, and where each cut falls at a moment: pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from accesslog import usage_keys

# Minute rows must outlive every usage hash that can still be folded (its Redis TTL) and
# the hour around it: a late batch recomputes its hour from all that hour's minutes, and a
# leftover folding key (which keeps its TTL) is told apart by its FoldBatch, pruned with them.
MIN_MINUTE_DAYS = usage_keys.KEY_TTL_SECONDS // 86400 + 1


@dataclass(frozen=True, slots=True)
class Retention:
    minute_days: int
    hour_days: int
    day_days: int  # 0: day rows are kept forever

    def __post_init__(self) -> None:
        if self.minute_days < MIN_MINUTE_DAYS:
            raise ValueError(f"minute rows must be kept at least {MIN_MINUTE_DAYS} days")
        if self.hour_days < self.minute_days:
            raise ValueError("hour rows must be kept at least as long as minute rows")
        if self.day_days and self.day_days < self.hour_days:
            raise ValueError("day rows must be kept at least as long as hour rows, or forever (0)")


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows with a bucket (or, for fold batches, a fold time) before these go."""

    minutes: datetime  # UsageMinute, ApiUsageMinute, Coverage, FoldBatch
    hours: datetime  # UsageHour, ApiUsageHour
    days: datetime | None  # UsageDay, ApiUsageDay; None: nothing goes


def cutoffs(retention: Retention, now: datetime) -> Cutoffs:
    """Cuts fall on whole days back from the start of `now`'s hour, so every run of an hour
    cuts at the same place."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return Cutoffs(
        minutes=hour - timedelta(days=retention.minute_days),
        hours=hour - timedelta(days=retention.hour_days),
        days=hour - timedelta(days=retention.day_days) if retention.day_days else None,
    )

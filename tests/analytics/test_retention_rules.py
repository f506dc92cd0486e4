"""How long usage is kept, and where the cuts fall: pure."""

from datetime import UTC, datetime

import pytest

from mgmt.analytics.retention_rules import MIN_MINUTE_DAYS, Retention, cutoffs

pytestmark = pytest.mark.pure


def test_the_defaults_keep_minutes_a_week_hours_ninety_days_and_days_forever() -> None:
    now = datetime(2030, 6, 15, 10, 42, 7, tzinfo=UTC)

    cut = cutoffs(Retention(minute_days=7, hour_days=90, day_days=0), now)

    assert cut.minutes == datetime(2030, 6, 8, 10, tzinfo=UTC)
    assert cut.hours == datetime(2030, 3, 17, 10, tzinfo=UTC)
    assert cut.days is None


def test_minute_rows_outlive_every_hash_that_can_still_be_folded() -> None:
    assert MIN_MINUTE_DAYS == 4
    with pytest.raises(ValueError, match="at least 4 days"):
        Retention(minute_days=3, hour_days=90, day_days=0)


@pytest.mark.parametrize(
    ("minute_days", "hour_days", "day_days"), [(7, 6, 0), (7, 90, 30), (7, 90, 89)]
)
def test_a_coarser_resolution_is_never_kept_shorter_than_a_finer_one(
    minute_days: int, hour_days: int, day_days: int
) -> None:
    with pytest.raises(ValueError, match="at least as long"):
        Retention(minute_days=minute_days, hour_days=hour_days, day_days=day_days)

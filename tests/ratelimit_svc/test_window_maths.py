"""Window shapes and billing periods: pure maths, an injected clock, no Redis."""

from datetime import UTC, datetime

import pytest

from ratelimit_svc.counters import policy_name
from ratelimit_svc.limits import Algorithm, Quota, Window, counter_key
from ratelimit_svc.quota_periods import add_months, period_at
from ratelimit_svc.windows import WindowShape, bucket_count

pytestmark = pytest.mark.pure


@pytest.mark.parametrize(
    ("seconds", "buckets", "bucket_ms"),
    [(1, 50, 20), (60, 60, 1000), (3600, 60, 60_000), (86_400, 60, 1_440_000), (7, 56, 125)],
)
def test_sliding_windows_are_cut_into_whole_buckets(
    seconds: int, buckets: int, bucket_ms: int
) -> None:
    assert bucket_count(seconds * 1000) == buckets
    shape = WindowShape.of(Window(10, seconds))
    assert (shape.bucket_ms, shape.span) == (bucket_ms, buckets)
    assert shape.bucket_ms * shape.span == seconds * 1000


def test_sliding_counts_at_least_the_whole_window_and_at_most_one_bucket_more() -> None:
    shape = WindowShape.of(Window(10, 1))
    for now in (1_000_000, 1_000_001, 1_000_019, 1_000_020):
        counted_from = shape.oldest(now) * shape.bucket_ms
        assert now - 1000 >= counted_from > now - 1000 - shape.bucket_ms


def test_a_bucket_stops_counting_one_window_after_it_ends() -> None:
    shape = WindowShape.of(Window(10, 60))
    bucket = shape.current(1_800_000_000_500)
    end_of_bucket = (bucket + 1) * shape.bucket_ms
    assert shape.leaves_at(bucket) == end_of_bucket + 60_000
    assert shape.oldest(shape.leaves_at(bucket)) == bucket + 1
    assert shape.oldest(shape.leaves_at(bucket) - 1) == bucket


def test_fixed_windows_are_one_aligned_bucket() -> None:
    shape = WindowShape.of(Window(10, 60, algorithm=Algorithm.FIXED))
    assert (shape.bucket_ms, shape.span) == (60_000, 0)
    assert shape.oldest(125_000) == shape.current(125_000) == 2
    assert shape.leaves_at(2) == 180_000


@pytest.mark.parametrize("bad", [0, -1, 10**13])
def test_limits_of_zero_negative_or_absurd_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="requests must be between 1"):
        Window(bad, 60)
    with pytest.raises(ValueError, match="requests must be between 1"):
        Quota(bad)


@pytest.mark.parametrize("seconds", [0, -5, 367 * 86_400])
def test_windows_of_no_length_or_over_a_year_are_refused(seconds: int) -> None:
    with pytest.raises(ValueError, match="a window must last"):
        Window(10, seconds)


def test_labels_and_header_names_say_the_window() -> None:
    assert Window(10, 1).label == "10 per second"
    assert Window(100, 300, unit="minute").label == "100 per 5 minutes"
    assert Window(5000, 86_400, unit="day").label == "5000 per day"
    assert policy_name(Window(1, 60, unit="minute")) == "minute"
    assert policy_name(Window(1, 300, unit="minute")) == "5-minutes"
    assert policy_name(Window(1, 90)) == "90-seconds"
    assert Quota(100_000).label == "100000 per month"
    assert Quota(10, period_months=12).label == "10 per year"


def test_counter_keys_share_the_tag_and_cannot_be_forged_by_values() -> None:
    key = counter_key("edge", "user={x}:1|é", "s60")
    assert key.startswith("tg:{edge}:")
    assert key.count("{") == 1 and key.count("}") == 1 and key.count(":") == 3
    assert counter_key("a", "b:c", "s1") != counter_key("a:b", "c", "s1")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_add_months_clamps_to_the_month_and_never_drifts() -> None:
    start = utc(2024, 1, 31, 10)
    assert [add_months(start, n).date().isoformat() for n in range(5)] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
        "2024-05-31",
    ]
    assert add_months(start, 13).date().isoformat() == "2025-02-28"  # not a leap year
    assert add_months(utc(2023, 12, 15), 1) == utc(2024, 1, 15)  # across a year


@pytest.mark.parametrize(
    ("anchor", "now", "start", "end"),
    [
        # The anniversary, not the calendar month.
        (utc(2026, 3, 15, 9), utc(2026, 4, 1), utc(2026, 3, 15, 9), utc(2026, 4, 15, 9)),
        (utc(2026, 3, 15, 9), utc(2026, 4, 15, 9), utc(2026, 4, 15, 9), utc(2026, 5, 15, 9)),
        (
            utc(2026, 3, 15, 9),
            utc(2026, 4, 15, 8, 59, 59),
            utc(2026, 3, 15, 9),
            utc(2026, 4, 15, 9),
        ),
        # Month ends and leap years.
        (utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 2, 29), utc(2024, 3, 31)),
        (utc(2024, 1, 31), utc(2024, 2, 28, 23), utc(2024, 1, 31), utc(2024, 2, 29)),
        (utc(2023, 1, 31), utc(2023, 2, 28), utc(2023, 2, 28), utc(2023, 3, 31)),
        (utc(2024, 2, 29), utc(2025, 2, 28), utc(2025, 2, 28), utc(2025, 3, 29)),
        (utc(2024, 2, 29), utc(2028, 3, 1), utc(2028, 2, 29), utc(2028, 3, 29)),
        # Years later, across December.
        (utc(2020, 12, 31), utc(2026, 12, 31), utc(2026, 12, 31), utc(2027, 1, 31)),
    ],
)
def test_monthly_periods_follow_the_subscriptions_anniversary(
    anchor: datetime, now: datetime, start: datetime, end: datetime
) -> None:
    period = period_at(int(anchor.timestamp()), ms(now), 1)
    assert (period.start, period.end) == (start, end)
    assert period.start_ms <= ms(now) < period.end_ms


def test_period_numbers_count_from_the_anchor_and_years_are_twelve_months() -> None:
    anchor = int(utc(2024, 2, 29, 12).timestamp())
    assert period_at(anchor, ms(utc(2024, 3, 1)), 1).index == 0
    assert period_at(anchor, ms(utc(2025, 3, 1)), 1).index == 12
    yearly = period_at(anchor, ms(utc(2025, 3, 1)), 12)
    assert (yearly.index, yearly.start, yearly.end) == (
        1,
        utc(2025, 2, 28, 12),
        utc(2026, 2, 28, 12),
    )


def test_before_the_anchor_the_first_period_counts() -> None:
    anchor = int(utc(2030, 1, 10).timestamp())
    period = period_at(anchor, ms(utc(2029, 12, 31)), 1)
    assert (period.index, period.start, period.end) == (0, utc(2030, 1, 10), utc(2030, 2, 10))


def test_every_instant_of_six_years_falls_in_exactly_one_contiguous_period() -> None:
    anchor = int(utc(2024, 1, 31, 23, 30).timestamp())
    previous = None
    now = ms(utc(2024, 1, 31, 23, 30))
    while now < ms(utc(2030, 1, 1)):
        period = period_at(anchor, now, 1)
        assert period.start_ms <= now < period.end_ms
        if previous is not None and period.index != previous.index:
            assert period.index == previous.index + 1
            assert period.start == previous.end
        previous = period
        now += 6 * 3600 * 1000

"""The recurring fee's share of a period: month ends, leap years, changes at the edges."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from mgmt.billing.pricing import Price, PricingModel, price_period
from mgmt.billing.proration import fee_fraction
from ratelimit_svc.quota_periods import add_months

pytestmark = pytest.mark.pure

PARIS = ZoneInfo("Europe/Paris")


def utc(year: int, month: int, day: int, hour: int = 10, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, 0, second, tzinfo=UTC)


# Anchored on 31 January at 10:00: the second period starts on the last day of February.
ANCHOR_2028 = utc(2028, 1, 31)
FEB_2028 = (utc(2028, 1, 31), utc(2028, 2, 29))  # leap year: 29 days
FEB_2027 = (utc(2027, 1, 31), utc(2027, 2, 28))  # 28 days
MARCH_2028 = (utc(2028, 2, 29), utc(2028, 3, 31))  # 31 days


def test_the_periods_here_are_the_quota_calendars() -> None:
    assert add_months(ANCHOR_2028, 1) == FEB_2028[1]
    assert add_months(ANCHOR_2028, 2) == MARCH_2028[1]
    assert add_months(utc(2027, 1, 31), 1) == FEB_2027[1]


def test_a_mid_period_change_in_leap_february_splits_29_days() -> None:
    start, end = FEB_2028
    change = utc(2028, 2, 15)  # 15 days after 31 January
    old = fee_fraction(start, end, utc(2027, 6, 1), change)
    new = fee_fraction(start, end, change, utc(2030, 1, 1))
    assert (old, new) == (Fraction(15, 29), Fraction(14, 29))


def test_a_mid_period_change_in_ordinary_february_splits_28_days() -> None:
    start, end = FEB_2027
    change = utc(2027, 2, 15)
    old = fee_fraction(start, end, utc(2026, 6, 1), change)
    new = fee_fraction(start, end, change, utc(2030, 1, 1))
    assert (old, new) == (Fraction(15, 28), Fraction(13, 28))


def test_the_period_after_leap_day_is_31_days_long() -> None:
    start, end = MARCH_2028
    assert fee_fraction(start, end, start, utc(2028, 3, 1)) == Fraction(1, 31)


def test_a_yearly_period_in_a_leap_year_has_366_days() -> None:
    start, end = utc(2028, 1, 1, 0), utc(2029, 1, 1, 0)
    # January to June 2028: 31 + 29 + 31 + 30 + 31 + 30 = 182 days.
    assert fee_fraction(start, end, start, utc(2028, 7, 1, 0)) == Fraction(182, 366)


def test_a_change_exactly_at_the_start_gives_the_new_plan_the_whole_period() -> None:
    start, end = FEB_2028
    assert fee_fraction(start, end, start, utc(2030, 1, 1)) == 1
    assert fee_fraction(start, end, utc(2027, 6, 1), start) == 0


def test_a_change_exactly_at_the_end_leaves_the_old_plan_the_whole_period() -> None:
    start, end = FEB_2028
    assert fee_fraction(start, end, utc(2027, 6, 1), end) == 1
    assert fee_fraction(start, end, end, utc(2030, 1, 1)) == 0


def test_the_share_counts_exact_seconds() -> None:
    start, end = FEB_2027
    one_second_in = utc(2027, 1, 31, second=1)
    # 28 days = 2,419,200 seconds.
    assert fee_fraction(start, end, start, one_second_in) == Fraction(1, 2_419_200)
    assert fee_fraction(start, end, one_second_in, end) == Fraction(2_419_199, 2_419_200)


def test_a_plan_active_beyond_the_period_is_clamped_to_it() -> None:
    start, end = FEB_2028
    assert fee_fraction(start, end, utc(2020, 1, 1), utc(2040, 1, 1)) == 1


@pytest.mark.parametrize(
    ("active_from", "active_to"),
    [
        (utc(2027, 1, 1), utc(2027, 12, 31)),  # before
        (utc(2028, 3, 1), utc(2028, 4, 1)),  # after
        (utc(2028, 2, 10), utc(2028, 2, 10)),  # an empty interval inside
    ],
)
def test_no_overlap_is_a_share_of_zero(active_from: datetime, active_to: datetime) -> None:
    assert fee_fraction(*FEB_2028, active_from, active_to) == 0


def test_time_zones_are_compared_as_instants_across_dst() -> None:
    # Paris months around the spring change (28 March 2027): 1 March 00:00 CET is
    # 28 Feb 23:00 UTC, 1 April 00:00 CEST is 31 March 22:00 UTC: 743 hours.
    start = datetime(2027, 3, 1, tzinfo=PARIS)
    end = datetime(2027, 4, 1, tzinfo=PARIS)
    # From 16 March 00:00 CET (15 March 23:00 UTC): 16 days less an hour, 383 hours.
    assert fee_fraction(start, end, datetime(2027, 3, 16, tzinfo=PARIS), end) == Fraction(383, 743)
    # The same instants written in UTC give the same share.
    assert fee_fraction(
        start, end, datetime(2027, 3, 15, 23, tzinfo=UTC), end + timedelta(days=1)
    ) == Fraction(383, 743)


@pytest.mark.parametrize("naive", ["period_start", "period_end", "active_from", "active_to"])
def test_naive_times_are_refused(naive: str) -> None:
    times = dict(
        period_start=FEB_2028[0],
        period_end=FEB_2028[1],
        active_from=FEB_2028[0],
        active_to=FEB_2028[1],
    )
    times[naive] = times[naive].replace(tzinfo=None)
    with pytest.raises(ValueError, match=naive):
        fee_fraction(**times)


def test_an_inverted_period_or_plan_interval_is_refused() -> None:
    start, end = FEB_2028
    with pytest.raises(ValueError, match="period"):
        fee_fraction(end, start, start, end)
    with pytest.raises(ValueError, match="period"):
        fee_fraction(start, start, start, end)
    with pytest.raises(ValueError, match="active"):
        fee_fraction(start, end, end, start)


def test_a_mid_period_change_bills_each_fee_for_its_share_and_units_as_metered() -> None:
    start, end = FEB_2028
    change = utc(2028, 2, 15)
    basic = Price("EUR", Decimal("29.00"), 0, PricingModel.PER_UNIT, Decimal("0.01"))
    pro = Price("EUR", Decimal("58.00"), 0, PricingModel.PER_UNIT, Decimal("0.005"))
    # 29.00 x 15/29 = 15.00 and 300 units at 0.01; 58.00 x 14/29 = 28.00 and 300 at 0.005.
    before = price_period(basic, 300, fee_fraction(start, end, start, change))
    after = price_period(pro, 300, fee_fraction(start, end, change, end))
    assert [line.amount for line in before.lines] == [Decimal("15.00"), Decimal("3.00")]
    assert before.lines[0].description == "Recurring fee for 15/29 of the period"
    assert [line.amount for line in after.lines] == [Decimal("28.00"), Decimal("1.50")]
    assert before.total + after.total == Decimal("47.50")

"""The share of a billing period a subscription spent on a plan: the recurring fee's proration.

Periods are those of ratelimit_svc/quota_periods.py: calendar months (1 or 12) anchored
on the subscription's start, the day clamped to the month (anchored on 31 January, a
period starts on 29 February in a leap year, 28 February otherwise). Periods differ in
length, so a share is taken of the period's own length, never of a nominal 30 days.

A plan change mid-period prorates the recurring fee by time: each plan's fee times the
share of the period it was active. Units are billed as metered, never prorated: a unit
is charged at the price of the plan it was admitted under.
"""

from datetime import UTC, datetime, timedelta
from fractions import Fraction

_MICROSECOND = timedelta(microseconds=1)


def fee_fraction(
    period_start: datetime, period_end: datetime, active_from: datetime, active_to: datetime
) -> Fraction:
    """The exact share of [period_start, period_end) during which the plan was active.

    The active interval [active_from, active_to) is clamped to the period; no overlap is
    0. Times must carry a time zone; they are compared as instants (a DST change inside
    the period counts as the hour it really is).
    """
    start = _instant("period_start", period_start)
    end = _instant("period_end", period_end)
    since = _instant("active_from", active_from)
    until = _instant("active_to", active_to)
    if end <= start:
        raise ValueError(f"the period ends ({period_end}) before it starts ({period_start})")
    if until < since:
        raise ValueError(f"the plan is active to {active_to}, before it starts ({active_from})")
    overlap = min(end, until) - max(start, since)
    if overlap <= timedelta(0):
        return Fraction(0)
    return Fraction(overlap // _MICROSECOND, (end - start) // _MICROSECOND)


def _instant(name: str, value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone, got the naive {value}")
    return value.astimezone(UTC)

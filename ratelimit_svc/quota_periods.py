"""Billing periods anchored to a subscription's own start: the quota's calendar.

Period n starts at the anchor plus n * `months` calendar months, the day of month
clamped to the month's length: a subscription started on 31 January at 10:00 has its
periods start on 29 February (leap year), 31 March, 30 April, 31 May ... each at 10:00
UTC. Every start is computed from the anchor, never from the previous start, so a short
month never shifts the days that follow it.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime


def add_months(anchor: datetime, months: int) -> datetime:
    """`anchor` moved by whole calendar months, its day clamped to the target month."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class Period:
    index: int
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def period_at(anchor_unix: int, now_ms: int, months: int) -> Period:
    """The period of `months` months, anchored at `anchor_unix`, that contains `now_ms`.

    Before the anchor (a subscription starting in the future, or clock skew) the period
    is the first one: counting starts with the subscription.
    """
    anchor = datetime.fromtimestamp(anchor_unix, UTC)
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    if now <= anchor:
        return Period(0, anchor, add_months(anchor, months))
    elapsed = (now.year - anchor.year) * 12 + now.month - anchor.month
    index = max(0, elapsed // months)
    # The estimate is off by at most one period when now is before this month's anchor day.
    start = add_months(anchor, index * months)
    while start > now:
        index -= 1
        start = add_months(anchor, index * months)
    end = add_months(anchor, (index + 1) * months)
    while end <= now:
        index += 1
        start, end = end, add_months(anchor, (index + 1) * months)
    return Period(index, start, end)

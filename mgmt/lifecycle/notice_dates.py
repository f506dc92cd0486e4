"""When sunset reminders are due: lead times in calendar days, in the owners' time zone.
A reminder due by the time the deprecation itself was announced is not sent: the
announcement gave the sunset already.

"7 days before a sunset at 09:00" means 09:00 local time seven calendar days earlier,
which is 167 or 169 hours when a DST change lies in between. A wall time that does not
exist that day (the spring-forward gap) moves forward by the gap (02:30 becomes 03:30); one
that happens twice (fall back) is the first of the two.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

MAX_LEAD_DAYS: Final = 3650


def parse_lead_days(text: str) -> tuple[int, ...]:
    """`"30, 7, 1"` -> (30, 7, 1): distinct whole days, 1 to 3650, longest first."""
    values: set[int] = set()
    for raw in text.replace(";", ",").split(","):
        part = raw.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= MAX_LEAD_DAYS:
            raise ValueError(
                f"a lead time is a whole number of days, 1 to {MAX_LEAD_DAYS}: {part!r}"
            )
        values.add(int(part))
    if not values:
        raise ValueError("give at least one lead time in days, e.g. 30,7,1")
    return tuple(sorted(values, reverse=True))


def local_instant(day: date, wall: datetime, zone: tzinfo) -> datetime:
    """`day` at `wall`'s local time of day in `zone`, as an aware UTC datetime.

    fold=0 gives both documented edge rules: in a gap, the offset from before the jump
    applies, which moves the wall time forward by the gap; a repeated wall time is the
    first of the two.
    """
    naive = datetime.combine(day, wall.time().replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def reminder_due_at(sunset: datetime, lead_days: int, zone: tzinfo) -> datetime:
    """When the reminder `lead_days` before `sunset` is due (aware, UTC)."""
    local = sunset.astimezone(zone)
    return local_instant(local.date() - timedelta(days=lead_days), local, zone)


@dataclass(frozen=True, slots=True)
class DueReminders:
    """`send`: the lead time to remind at now (the shortest due); `superseded`: the longer
    ones also due, which would only repeat it (a sunset set 5 days ahead skips "30 days")."""

    send: int | None
    superseded: tuple[int, ...]


def due_reminders(
    sunset: datetime, leads: Iterable[int], now: datetime, zone: tzinfo
) -> DueReminders:
    if now >= sunset:
        return DueReminders(None, ())
    due = sorted(lead for lead in leads if reminder_due_at(sunset, lead, zone) <= now)
    if not due:
        return DueReminders(None, ())
    return DueReminders(due[0], tuple(due[1:]))


def after_announcement(
    due: DueReminders, sunset: datetime, announced_at: datetime, zone: tzinfo
) -> DueReminders:
    """`due` for an application told of the deprecation at `announced_at`: when the reminder
    to send now fell due by then, it would repeat the announcement, and is superseded too
    (a version deprecated 5 days before its sunset gets no "7 days" reminder on top)."""
    if due.send is None or reminder_due_at(sunset, due.send, zone) > announced_at:
        return due
    return DueReminders(None, (due.send, *due.superseded))

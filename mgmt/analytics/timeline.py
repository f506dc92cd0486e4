"""Time axes of the usage charts and their coverage marks: pure (no Django, no queries).

A chart's buckets are minutes, hours or days (UTC) by the length of its range. Each
bucket gets a coverage mark from the collector's per-node coverage, so a chart can tell
"no traffic" (full coverage, zero requests) from "no data" (a gap):

- "full": every node known at that time covered the whole bucket.
- "partial": some node covered only part of it (or was missing while others reported):
  the counts are a lower bound.
- "gap": nodes were known and none reported: the counts are missing, not zero; never draw
  a gap as zero traffic.
- "none": nothing is known: no node had reported in the lookback before it, it is older
  than the coverage kept (the minute rows' retention), or it has not been folded yet.

A node is "known" at a minute when it reported within LOOKBACK_MINUTES before it: a sliding
window rather than "since midnight", so a node that stops at 23:59 is missed at 00:00 too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

MINUTE: Final = timedelta(minutes=1)
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
# Ranges up to these lengths are read from minute, then hour rows; longer ones from days.
MINUTES_UP_TO: Final = timedelta(hours=6)
HOURS_UP_TO: Final = timedelta(days=14)
LOOKBACK_MINUTES: Final = 24 * 60
FULL_SECONDS: Final = 60

FULL: Final = "full"
PARTIAL: Final = "partial"
GAP: Final = "gap"
NONE: Final = "none"

# Minutes are counted as unix minutes (unix seconds // 60) here: a week of them is walked
# per chart, and integers are what that walk and the database exchange cheaply.
Cover = Mapping[int, Mapping[str, int]]  # unix minute -> node -> seconds covered


def step_for(start: datetime, end: datetime) -> timedelta:
    """The bucket length a chart of [start, end) is read at: MINUTE, HOUR or DAY."""
    span = end - start
    if span <= MINUTES_UP_TO:
        return MINUTE
    if span <= HOURS_UP_TO:
        return HOUR
    return DAY


def floor(moment: datetime, step: timedelta) -> datetime:
    """The start (UTC) of the bucket of length `step` holding `moment` (aware)."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime has no place on the timeline: {moment!r}")
    utc = moment.astimezone(UTC)
    if step == DAY:
        return utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if step == HOUR:
        return utc.replace(minute=0, second=0, microsecond=0)
    if step == MINUTE:
        return utc.replace(second=0, microsecond=0)
    raise ValueError(f"no bucket of {step}")


def buckets(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The starts of the buckets that overlap [start, end), oldest first."""
    out: list[datetime] = []
    at = floor(start, step)
    while at < end:
        out.append(at)
        at += step
    return out


def unix_minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def minute_start(minute: int) -> datetime:
    """The UTC start of a unix minute."""
    return datetime.fromtimestamp(minute * 60, tz=UTC)


def minute_marks(cover: Cover, minutes: range, *, folded_before: int) -> list[str]:
    """The mark of each of `minutes` (unix minutes, ascending). `cover` must hold the rows
    from LOOKBACK_MINUTES before the first of them; minutes from `folded_before` on have not
    been folded yet and are "none"."""
    seen = sorted(cover)
    last_seen: dict[str, int] = {}
    position = 0
    marks: list[str] = []
    for minute in minutes:
        while position < len(seen) and seen[position] < minute:
            for node in cover[seen[position]]:
                last_seen[node] = seen[position]
            position += 1
        if minute >= folded_before:
            marks.append(NONE)
            continue
        present = cover.get(minute, {})
        horizon = minute - LOOKBACK_MINUTES
        known = {n for n, at in last_seen.items() if at >= horizon} | present.keys()
        marks.append(_mark(known, present))
    return marks


def combine(marks: Iterable[str]) -> str:
    """The mark of a bucket from its minutes' marks; minutes marked "none" say nothing."""
    known = {m for m in marks if m != NONE}
    if not known:
        return NONE
    if known == {FULL}:
        return FULL
    if known == {GAP}:
        return GAP
    return PARTIAL


def _mark(known: set[str], present: Mapping[str, int]) -> str:
    if not known:
        return NONE
    if not present:
        return GAP
    if known - set(present) or any(s < FULL_SECONDS for s in present.values()):
        return PARTIAL
    return FULL

"""When a failed webhook is tried again, and when we give up: the Standard Webhooks / Svix
schedule, pure (the clock and the random source are passed in).

Attempt 1 goes out immediately; after each failure the next waits 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 10 h, then 12 h five times: 13 attempts over 87 h 35 min 5 s nominal. Every delay
is jittered by up to ±10 % so that endpoints failing together are not retried in lockstep;
even at -10 % throughout the last attempt comes 78 h 49 min after the first, so a receiver
that is down for three days loses nothing.

A failure is anything but a 2xx answer: timeouts, connection errors, redirects (never
followed), 4xx and 5xx alike. Like Svix we retry all of them: a 404 or 401 is as often a
receiver's deployment in progress as a permanent refusal, and the retries are cheap. The
Standard Webhooks spec suggests treating 410 Gone as "disable this endpoint"; that is a
decision about the endpoint, for its owner's code, not about this message's schedule.
"""

from datetime import datetime, timedelta
from typing import Final, Protocol

# The wait before attempt n+1, indexed by n - 1 (n = the attempt that just failed).
RETRY_DELAYS: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    *(timedelta(hours=12),) * 5,
)
MAX_ATTEMPTS: Final = len(RETRY_DELAYS) + 1
JITTER: Final = 0.10
NOMINAL_HORIZON: Final = sum(RETRY_DELAYS, timedelta())
SHORTEST_HORIZON: Final = NOMINAL_HORIZON * (1 - JITTER)


class JitterSource(Protocol):
    """What the schedule needs of a random source; `random.Random` is one."""

    def uniform(self, a: float, b: float) -> float: ...


def next_attempt_at(attempt_number: int, now: datetime, rng: JitterSource) -> datetime | None:
    """When to make the attempt after attempt `attempt_number` (1-based) failed at `now`,
    or None: that was the last one, give up. `now` must be timezone-aware."""
    if attempt_number < 1:
        raise ValueError("attempts are counted from 1")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the schedule works in aware datetimes")
    if attempt_number >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[attempt_number - 1]
    factor = min(max(rng.uniform(1 - JITTER, 1 + JITTER), 1 - JITTER), 1 + JITTER)
    return now + delay * factor


def is_success(status: int | None) -> bool:
    """A delivery succeeded when the receiver answered 2xx; no answer is a failure."""
    return status is not None and 200 <= status <= 299


def is_retryable(status: int | None) -> bool:
    """Whether a failed attempt is tried again (while attempts remain): every failure is,
    whatever the status or the lack of one; see the module's note."""
    return not is_success(status)

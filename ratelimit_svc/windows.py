"""Window maths: which buckets a check counts, when each stops counting, and the pacing rule.

Every counter is a Redis hash of bucket index -> hits. A check sums the buckets from
`oldest` to `current`, admits the hits if the sum stays within the counter's cap, and
adds them to bucket `current`. Bucket `j` stops counting at `leaves_at(j)`.

Sliding (the default): two rules, both must admit, kept in the same hash.
  The rate (GCRA, the field `t`): N per W, a burst of up to N after an idle window, then
  one call each W/N. A client that keeps to its limit, evenly spaced with up to
  PACING_JITTER_MS of jitter either way, is never refused; `t` (time until the limit is
  whole again) never exceeds W; Retry-After is exact.
  The window (buckets of W/k ms, k+1 counted, so the counted span covers the last W ms and
  at most W/k more): at most N + s in ANY interval of W ms, where the slack s is the
  smallest that never refuses the paced client above (`slack()`: 2 for 10 per second, 1
  for 8 per hour, about N/60 for very large N). So a flood gets N in its first instant and
  never more than N + s in any window, while GCRA holds its steady state to N per W.

Fixed (compatibility with envoyproxy/ratelimit). One bucket per aligned window.
  Bound: N per aligned window; up to 2N in an interval of W ms that straddles a
  boundary (N at the end of one window, N at the start of the next).

Quota. One bucket per billing period (quota_periods.py); the bucket index is the
period's number since the anchor, and it stops counting when the period ends.
"""

from dataclasses import dataclass
from typing import Final

from ratelimit_svc.limits import Algorithm, Window

MAX_BUCKETS: Final = 60
# How early or late a paced call may arrive, either way, and still never be refused.
PACING_JITTER_MS: Final = 5
# How far past W the GCRA clock may run: a paced call can come 2 * jitter early relative to
# the one before it, which only matters for N = 1 (elsewhere W - W/N absorbs it).
GCRA_TOLERANCE_MS: Final = 2 * PACING_JITTER_MS


def bucket_count(window_ms: int) -> int:
    """The largest divisor of `window_ms` not above MAX_BUCKETS, so buckets tile the window."""
    return next(k for k in range(min(MAX_BUCKETS, window_ms), 0, -1) if window_ms % k == 0)


def slack(requests: int, window_ms: int, bucket_ms: int, jitter_ms: int = PACING_JITTER_MS) -> int:
    """How far above `requests` the bucketed count of a sliding window may go.

    The counted span is at most W + one bucket long; calls spaced at least W/N - 2*jitter
    apart fit floor(span / spacing) + 1 times into it. When the spacing is no longer
    positive (N so large that jitter exceeds it) one bucket's share of N, plus one, is the
    slack: pacing is then indistinguishable from a flood at that resolution.
    """
    spacing_num = window_ms - 2 * jitter_ms * requests  # spacing * N, in ms
    if spacing_num > 0:
        fits = (window_ms + bucket_ms) * requests // spacing_num + 1
        return max(1, fits - requests)
    return -(-requests * bucket_ms // window_ms) + 1


@dataclass(frozen=True, slots=True)
class WindowShape:
    """How one window is bucketed: `bucket_ms` wide, `span` older buckets counted, and the
    cap on the bucketed count (N for fixed windows, N + slack for sliding ones)."""

    bucket_ms: int
    span: int
    window_ms: int
    cap: int
    paced: bool  # sliding: the GCRA rule applies too

    @classmethod
    def of(cls, window: Window) -> "WindowShape":
        window_ms = window.seconds * 1000
        if window.algorithm is Algorithm.FIXED:
            return cls(window_ms, 0, window_ms, window.requests, paced=False)
        k = bucket_count(window_ms)
        bucket_ms = window_ms // k
        cap = window.requests + slack(window.requests, window_ms, bucket_ms)
        return cls(bucket_ms, k, window_ms, cap, paced=True)

    def current(self, now_ms: int) -> int:
        return now_ms // self.bucket_ms

    def oldest(self, now_ms: int) -> int:
        return now_ms // self.bucket_ms - self.span

    def leaves_at(self, bucket: int) -> int:
        """When bucket `bucket` stops counting (ms)."""
        return (bucket + self.span + 1) * self.bucket_ms

    @property
    def ttl_ms(self) -> int:
        """How long a counter outlives its last hit: its newest bucket's life, plus one bucket
        (longer than the GCRA field's W + jitter, which lives in the same hash)."""
        return (self.span + 2) * self.bucket_ms + PACING_JITTER_MS

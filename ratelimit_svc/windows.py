"""Window maths: which buckets a check counts, and when each stops counting.

Every counter is a Redis hash of bucket index -> hits. A check sums the buckets from
`oldest` to `current`, admits the hits if the sum stays within the limit, and adds
them to bucket `current`. Bucket `j` stops counting at `leaves_at(j)`.

Sliding (the default). The window of W ms is cut into k buckets of W/k ms (k is the
largest divisor of W in 1..60: 20 ms buckets for a second, 1 s for a minute, 24 min
for a day). A check counts k+1 buckets: the current, partial one and the k before it,
so the counted span always covers the last W ms and at most W/k ms more.
  Bound: never more than N admitted in ANY interval of W ms (no burst at any
  boundary). The price: a request may be refused although fewer than N were admitted
  in the last W ms, if N were admitted in the last W + W/k ms.

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


def bucket_count(window_ms: int) -> int:
    """The largest divisor of `window_ms` not above MAX_BUCKETS, so buckets tile the window."""
    return next(k for k in range(min(MAX_BUCKETS, window_ms), 0, -1) if window_ms % k == 0)


@dataclass(frozen=True, slots=True)
class WindowShape:
    """How one window is bucketed: `bucket_ms` wide, `span` older buckets counted."""

    bucket_ms: int
    span: int

    @classmethod
    def of(cls, window: Window) -> "WindowShape":
        window_ms = window.seconds * 1000
        if window.algorithm is Algorithm.FIXED:
            return cls(bucket_ms=window_ms, span=0)
        k = bucket_count(window_ms)
        return cls(bucket_ms=window_ms // k, span=k)

    def current(self, now_ms: int) -> int:
        return now_ms // self.bucket_ms

    def oldest(self, now_ms: int) -> int:
        return now_ms // self.bucket_ms - self.span

    def leaves_at(self, bucket: int) -> int:
        """When bucket `bucket` stops counting (ms)."""
        return (bucket + self.span + 1) * self.bucket_ms

    @property
    def ttl_ms(self) -> int:
        """How long a counter outlives its last hit: its newest bucket's life, plus one bucket."""
        return (self.span + 2) * self.bucket_ms

"""What counters show after a check, and what a client is told: the RateLimit headers and
the 429 problem. Pure; shared by ratelimit_svc's RLS answers and ext_authz's one decision.

Headers follow the IETF draft (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy`
lists every enforced limit, `RateLimit` its remaining units and seconds to reset.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from ratelimit_svc.counters import Counter
from ratelimit_svc.problems import QUOTA_EXCEEDED, RATE_LIMITED
from ratelimit_svc.redis_store import NEVER, NOT_OVER, ScriptResult


def ceil_seconds(ms: int) -> int:
    return max(0, -(-ms // 1000))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reading:
    """What one counter shows after a check: over or not, remaining units, ms until it is
    whole again (`reset_ms`, never more than the window) and, when over, ms until the
    request would fit (`retry_ms`, -1: never)."""

    __slots__ = ("counter", "over", "remaining", "reset_ms", "retry_ms")

    def __init__(
        self, counter: Counter, over: bool, remaining: int, reset_ms: int, retry_ms: int
    ) -> None:
        self.counter = counter
        self.over = over
        self.remaining = remaining
        self.reset_ms = reset_ms
        self.retry_ms = retry_ms

    @classmethod
    def of(cls, counter: Counter, result: ScriptResult, i: int, now_ms: int) -> "Reading":
        """Counter `i` as check.lua reported it."""
        limit = counter.limit
        hits = counter.hits
        fit = min(result.fit(i), limit)
        over = fit < hits
        admitted = result.admitted
        remaining = max(0, fit - hits if admitted else fit)
        window_ms = counter.seconds * 1000
        if counter.paced:
            interval = window_ms / limit
            debt = result.debt(i) + (hits * interval if admitted else 0)
            reset_ms = min(window_ms, max(0, int(debt + 0.999)))
        else:
            first = result.first(i)
            if first < 0:
                first = counter.current if admitted else -1
            reset_ms = counter.leaves_at(first) - now_ms if first >= 0 else 0
            if counter.period is None:
                reset_ms = min(window_ms, reset_ms)
        free, wait = result.free(i), result.wait(i)
        if NEVER in (free, wait):
            retry_ms = NEVER
        else:
            retry_ms = max(
                counter.leaves_at(free) - now_ms if free != NOT_OVER else 0,
                wait if wait != NOT_OVER else 0,
            )
        return cls(counter, over, remaining, reset_ms, retry_ms)


def policy_header(readings: Sequence[Reading]) -> str:
    """`RateLimit-Policy`: every enforced limit, shadow ones never shown."""
    return ", ".join(
        f'"{r.counter.limit_of.policy}";q={r.counter.limit};w={r.counter.seconds}'
        for r in readings
        if not r.counter.shadow
    )


def state_header(readings: Sequence[Reading]) -> str:
    """`RateLimit`: each enforced limit's remaining units and seconds until it is whole."""
    return ", ".join(
        state_item(r.counter.limit_of.policy, r.remaining, ceil_seconds(r.reset_ms))
        for r in readings
        if not r.counter.shadow
    )


def state_item(policy: str, remaining: int, reset_seconds: int) -> str:
    """One limit in the `RateLimit` header (leases show theirs with the same words)."""
    return f'"{policy}";r={remaining};t={reset_seconds}'


def refusal(readings: Sequence[Reading], now_ms: int) -> tuple[bytes, int | None]:
    """The 429 problem body of a refused request and its Retry-After seconds (None when the
    request can never fit). `readings` are all the request's; the blocking ones are the
    enforced ones that are over."""
    blocking = [r for r in readings if r.over and not r.counter.shadow]
    quota = [r for r in blocking if r.counter.period is not None]
    reading = quota[0] if quota else max(blocking, key=lambda r: r.retry_ms)
    counter = reading.counter
    never = any(r.retry_ms < 0 for r in blocking)
    retry_ms = -1 if never else max(r.retry_ms for r in blocking)
    problem = QUOTA_EXCEEDED if quota else RATE_LIMITED
    limit_label = counter.limit_of.label
    if never:
        detail = (
            f"This call counts as {counter.hits} requests, more than the limit of "
            f"{limit_label} allows: it can never be admitted."
        )
    elif quota:
        assert counter.period is not None
        detail = (
            f"The quota of {limit_label} is used up. It renews with the subscription's next "
            f"billing period, at {iso(counter.period.end_ms)}."
        )
    else:
        detail = (
            f"The limit of {limit_label} is used up. "
            f"Retry in {ceil_seconds(retry_ms)} s, at {iso(now_ms + retry_ms)}."
        )
    document: dict[str, object] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": detail,
        "limit": limit_label,
        "policy": counter.limit_of.policy,
        "quota": counter.limit,
    }
    if not never:
        document["retry_after"] = ceil_seconds(retry_ms)
        document["resets_at"] = iso(now_ms + retry_ms)
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, None if never else max(1, ceil_seconds(retry_ms))

"""The RateLimitResponse for one check: the verdict, the RateLimit headers, the 429 body.

Pure: counters and the script's result in, serialized response out. Headers follow the
IETF draft (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` lists every
enforced limit, `RateLimit` its remaining units and seconds to reset. The statuses carry
the same figures so Envoy can also emit its `x-ratelimit-*` (draft 03) headers when the
filter asks for them.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from envoy.config.core.v3 import base_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from extauthz.problems import CONTENT_TYPE
from ratelimit_svc.counters import Counter
from ratelimit_svc.problems import QUOTA_EXCEEDED, RATE_LIMITED
from ratelimit_svc.redis_store import NEVER, NOT_OVER, ScriptResult

_OK: Final = rls_pb2.RateLimitResponse.OK
_OVER: Final = rls_pb2.RateLimitResponse.OVER_LIMIT
_UNITS: Final = {
    "second": rls_pb2.RateLimitResponse.RateLimit.SECOND,
    "minute": rls_pb2.RateLimitResponse.RateLimit.MINUTE,
    "hour": rls_pb2.RateLimitResponse.RateLimit.HOUR,
    "day": rls_pb2.RateLimitResponse.RateLimit.DAY,
    "month": rls_pb2.RateLimitResponse.RateLimit.MONTH,
    "year": rls_pb2.RateLimitResponse.RateLimit.YEAR,
}

# Nothing to count (no rule matched): the same bytes every time.
ALL_OK: Final[bytes] = rls_pb2.RateLimitResponse(overall_code=_OK).SerializeToString()


def _ceil_seconds(ms: int) -> int:
    return max(0, -(-ms // 1000))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _header(header: base_pb2.HeaderValue, key: str, value: str) -> None:
    header.key = key
    header.value = value


class _Reading:
    """What one counter shows after the check."""

    __slots__ = ("counter", "over", "remaining", "reset_ms", "retry_ms")

    def __init__(self, counter: Counter, result: ScriptResult, i: int, now_ms: int) -> None:
        self.counter = counter
        limit = counter.limit
        used = result.used(i)
        free = result.free(i)
        self.over = free != NOT_OVER
        admitted_here = result.admitted
        counted = used + counter.hits if admitted_here else used
        self.remaining = max(0, limit - counted)
        first = result.first(i)
        if first < 0:
            first = counter.current if admitted_here else -1
        self.reset_ms = counter.leaves_at(first) - now_ms if first >= 0 else 0
        # When refused: how long until enough hits have expired for this request to fit.
        self.retry_ms = -1 if free == NEVER else counter.leaves_at(free) - now_ms


def _status(readings: Sequence[_Reading]) -> rls_pb2.RateLimitResponse.DescriptorStatus:
    """One descriptor's status: the most constraining enforced limit (fewest remaining)."""
    status = rls_pb2.RateLimitResponse.DescriptorStatus(code=_OK)
    enforced = [r for r in readings if not r.counter.shadow]
    if not enforced:
        return status
    tightest = min(enforced, key=lambda r: (not r.over, r.remaining))
    if tightest.over:
        status.code = _OVER
    limit_of = tightest.counter.limit_of
    current = status.current_limit
    current.requests_per_unit = min(limit_of.limit, 2**32 - 1)
    current.unit = _UNITS.get(limit_of.unit, _UNITS["second"])
    current.name = limit_of.policy
    status.limit_remaining = min(tightest.remaining, 2**32 - 1)
    status.duration_until_reset.FromMilliseconds(max(0, tightest.reset_ms))
    return status


def _problem(blocking: Sequence[_Reading], now_ms: int) -> tuple[bytes, int | None]:
    """The 429 body and its Retry-After seconds (None when the request can never fit)."""
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
            f"billing period, at {_iso(counter.period.end_ms)}."
        )
    else:
        detail = (
            f"The limit of {limit_label} is used up. "
            f"Retry in {_ceil_seconds(retry_ms)} s, at {_iso(now_ms + retry_ms)}."
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
        document["retry_after"] = _ceil_seconds(retry_ms)
        document["resets_at"] = _iso(now_ms + retry_ms)
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, None if never else max(1, _ceil_seconds(retry_ms))


def encode(
    descriptor_counters: Sequence[Sequence[int]],
    counters: Sequence[Counter],
    result: ScriptResult,
    now_ms: int,
) -> tuple[bytes, list[_Reading]]:
    """The response, and every counter's reading (for metrics and throttle events).

    `descriptor_counters[d]` lists the indexes in `counters` of descriptor d's counters,
    so statuses come back in the request's descriptor order, as the protocol requires.
    """
    readings = [_Reading(c, result, i, now_ms) for i, c in enumerate(counters)]
    response = rls_pb2.RateLimitResponse(overall_code=_OK if result.admitted else _OVER)
    for indexes in descriptor_counters:
        response.statuses.append(_status([readings[i] for i in indexes]))

    policies = []
    states = []
    for reading in readings:
        if reading.counter.shadow:
            continue
        counter = reading.counter
        name = counter.limit_of.policy
        policies.append(f'"{name}";q={counter.limit};w={counter.seconds}')
        states.append(f'"{name}";r={reading.remaining};t={_ceil_seconds(reading.reset_ms)}')
    if policies:
        _header(response.response_headers_to_add.add(), "ratelimit-policy", ", ".join(policies))
        _header(response.response_headers_to_add.add(), "ratelimit", ", ".join(states))
    if not result.admitted:
        blocking = [r for r in readings if r.over and not r.counter.shadow]
        body, retry_after = _problem(blocking, now_ms)
        response.raw_body = body
        _header(response.response_headers_to_add.add(), "content-type", CONTENT_TYPE)
        if retry_after is not None:
            _header(response.response_headers_to_add.add(), "retry-after", str(retry_after))
    return response.SerializeToString(), readings

"""The RateLimitResponse for one check: the verdict, the RateLimit headers, the 429 body.

Pure: counters and the script's result in, serialized response out. Headers follow the
IETF draft (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` lists every
enforced limit, `RateLimit` its remaining units and seconds to reset. The statuses carry
the same figures so Envoy can also emit its `x-ratelimit-*` (draft 03) headers when the
filter asks for them.
"""

from collections.abc import Sequence
from typing import Final

from envoy.config.core.v3 import base_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from extauthz.problems import CONTENT_TYPE
from ratelimit_svc.counters import Counter
from ratelimit_svc.redis_store import ScriptResult
from ratelimit_svc.verdicts import Reading, policy_header, refusal, state_header

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


def _header(header: base_pb2.HeaderValue, key: str, value: str) -> None:
    header.key = key
    header.value = value


def _status(readings: Sequence[Reading]) -> rls_pb2.RateLimitResponse.DescriptorStatus:
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


def encode(
    descriptor_counters: Sequence[Sequence[int]],
    counters: Sequence[Counter],
    result: ScriptResult,
    now_ms: int,
) -> tuple[bytes, list[Reading]]:
    """The response, and every counter's reading (for metrics and throttle events).

    `descriptor_counters[d]` lists the indexes in `counters` of descriptor d's counters,
    so statuses come back in the request's descriptor order, as the protocol requires.
    """
    readings = [Reading.of(c, result, i, now_ms) for i, c in enumerate(counters)]
    response = rls_pb2.RateLimitResponse(overall_code=_OK if result.admitted else _OVER)
    for indexes in descriptor_counters:
        response.statuses.append(_status([readings[i] for i in indexes]))

    if any(not r.counter.shadow for r in readings):
        _header(response.response_headers_to_add.add(), "ratelimit-policy", policy_header(readings))
        _header(response.response_headers_to_add.add(), "ratelimit", state_header(readings))
    if not result.admitted:
        body, retry_after = refusal(readings, now_ms)
        response.raw_body = body
        _header(response.response_headers_to_add.add(), "content-type", CONTENT_TYPE)
        if retry_after is not None:
            _header(response.response_headers_to_add.add(), "retry-after", str(retry_after))
    return response.SerializeToString(), readings

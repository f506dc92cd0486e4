"""Redis down: checks fail fast (Envoy applies the route's failure mode), then resume.

These tests start a Redis of their own on a free port and kill it; the machine's
shared Redis is never touched.
"""

import time

import pytest

from ratelimit_svc.metrics import RateLimitMetrics
from ratelimit_svc.redis_store import RedisCounterStore
from ratelimit_svc.service import RuleResolver, ShouldRateLimitHandler
from tests.ratelimit_svc.helpers import (
    OK,
    OVER_LIMIT,
    Aborted,
    FakeContext,
    limits,
    loaded_rules,
    parse,
    request,
    window,
)
from tests.redis_server import OwnRedis

pytestmark = pytest.mark.redis


def check(handler: ShouldRateLimitHandler) -> int | str:
    """The overall code, or the gRPC status name when the call was aborted."""
    try:
        return parse(handler(request(1), FakeContext())).overall_code  # type: ignore[arg-type, no-any-return]
    except Aborted as aborted:
        return aborted.code.name


def wait_for(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)


def make(own_redis: OwnRedis) -> tuple[ShouldRateLimitHandler, RedisCounterStore, RateLimitMetrics]:
    store = RedisCounterStore(own_redis.url, probe_interval=0.1)
    metrics = RateLimitMetrics()
    rules = loaded_rules(limits(1, [window(3, 3600, unit="hour")]))
    return ShouldRateLimitHandler(RuleResolver(rules, None), store, metrics), store, metrics


def test_starts_with_redis_down_and_enforces_within_two_seconds_of_its_return(
    own_redis: OwnRedis,
) -> None:
    handler, store, metrics = make(own_redis)
    try:
        assert check(handler) == "UNAVAILABLE"
        assert check(handler) == "UNAVAILABLE"  # the breaker answers, no socket wait
        assert metrics.backend_errors._value.get() == 2
        own_redis.start()
        wait_for(lambda: check(handler) == OK, timeout=2.0)
        assert [check(handler) for _ in range(3)] == [OK, OK, OVER_LIMIT]
    finally:
        store.close()


def test_redis_killed_mid_traffic_then_restarted(own_redis: OwnRedis) -> None:
    own_redis.start()
    handler, store, _ = make(own_redis)
    try:
        assert check(handler) == OK
        own_redis.kill()
        assert check(handler) == "UNAVAILABLE"
        assert not store.healthy
        # Its append-only file keeps the count (1 of 3); the script is loaded again.
        own_redis.start()
        wait_for(lambda: check(handler) == OK, timeout=2.0)
        assert [check(handler) for _ in range(2)] == [OK, OVER_LIMIT]
    finally:
        store.close()

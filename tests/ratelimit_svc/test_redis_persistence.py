"""The embedded Redis keeps its counts across a restart (append-only file): a subscription
whose quota is half used before the restart has half of it left after, not a fresh one."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from protos.tollgate.v1 import resources_pb2
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
    remaining,
    request,
)
from tests.redis_server import OwnRedis

pytestmark = pytest.mark.redis

SUBSCRIPTION = 42
ANCHOR = int(datetime(2030, 1, 15, tzinfo=UTC).timestamp())
NOW = datetime(2030, 3, 20, 12, tzinfo=UTC).timestamp()  # mid-period: no reset in sight


def quota_handler(store: RedisCounterStore, requests: int) -> ShouldRateLimitHandler:
    quota = resources_pb2.RateLimitQuota(requests=requests, period_months=1, anchor=ANCHOR)
    rules = loaded_rules(limits(SUBSCRIPTION, quota=quota))
    return ShouldRateLimitHandler(
        RuleResolver(rules, None), store, RateLimitMetrics(), None, lambda: NOW
    )


def check(handler: ShouldRateLimitHandler) -> int | str:
    try:
        return parse(handler(request(SUBSCRIPTION), FakeContext())).overall_code  # type: ignore[arg-type, no-any-return]
    except Aborted as aborted:
        return aborted.code.name


def answered(handler: ShouldRateLimitHandler, replies: list[Any]) -> bool:
    """One check; True (and the reply kept) once Redis answered it, not the breaker."""
    try:
        replies.append(parse(handler(request(SUBSCRIPTION), FakeContext())))  # type: ignore[arg-type]
    except Aborted:
        return False
    return True


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["kill -9", "stop"])
def test_a_quota_half_used_before_a_redis_restart_is_half_used_after(
    own_redis: OwnRedis, how: str
) -> None:
    own_redis.start()
    store = RedisCounterStore(own_redis.url, timeout=1.0, probe_interval=0.05)
    handler = quota_handler(store, requests=6)
    try:
        assert [check(handler) for _ in range(3)] == [OK] * 3
        if how == "kill -9":
            # everysec: what is older than two seconds is in the file, even when a slow disk
            # made Redis postpone its write (it does, up to 2 s, while an fsync is running).
            time.sleep(2.5)
            own_redis.kill()  # no chance to flush anything on its way out
        else:
            assert own_redis.child is not None
            own_redis.group.stop(own_redis.child)
        own_redis.start()  # the same data dir, as `make run` restarts it
        replies: list[Any] = []
        wait_for(lambda: answered(handler, replies), timeout=5.0)
        reply = replies[0]  # the first check Redis answered after its restart
        assert reply.overall_code == OK
        assert remaining(reply, "quota") == 2  # 4 of 6 used: the 3 before the restart count
        assert [check(handler) for _ in range(3)] == [OK, OK, OVER_LIMIT]
    finally:
        store.close()
    assert (own_redis.data_dir / "appendonly.aof").stat().st_size > 0

"""Analytics test setup: the usage Redis is the machine's Redis, database 12, emptied of
usage keys before and after each test that asks for it."""

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from accesslog import usage_keys
from accesslog.usage_keys import Dims
from mgmt.analytics import fold
from mgmt.analytics.claims import CLAIMED_KEY, FOLDING_PREFIX
from mgmt.analytics.fold_redis import UsageRedis

USAGE_REDIS_URL = "redis://127.0.0.1:6379/12"


def _forget_usage(client: "redis.Redis") -> None:
    for pattern in (
        f"{usage_keys.MINUTE_KEY_PREFIX}*",
        f"{usage_keys.COVER_KEY_PREFIX}*",
        f"{FOLDING_PREFIX}*",
    ):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.delete(usage_keys.LAST_USED_KEY, CLAIMED_KEY)


@pytest.fixture
def usage_redis(settings: Any) -> Iterator["redis.Redis"]:
    """A client of the usage Redis (DB 12), which the fold reads through settings too; a
    test that needs it fails (never skips) when Redis is down."""
    client = redis.Redis.from_url(USAGE_REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {USAGE_REDIS_URL} is required for this test: {error}")
    settings.TOLLGATE_ANALYTICS_REDIS_URL = USAGE_REDIS_URL
    _forget_usage(client)
    try:
        yield client
    finally:
        _forget_usage(client)
        client.close()


@dataclass
class UsageWriter:
    """Writes usage as the collector does (HINCRBY into minute hashes) and runs the fold."""

    client: "redis.Redis"
    settle_seconds: int = 90

    def add(
        self,
        minute: int,
        dims: Dims,
        *,
        histogram: Mapping[int, int] | None = None,
        **metrics: int,
    ) -> None:
        """`metrics` by usage_keys name (n, e, t, bi, bo, ds, us)."""
        pipe = self.client.pipeline(transaction=False)
        for metric, value in metrics.items():
            pipe.hincrby(usage_keys.minute_key(minute), usage_keys.field(dims, metric), value)
        for index, count in (histogram or {}).items():
            name = usage_keys.field(dims, usage_keys.histogram_metric(index))
            pipe.hincrby(usage_keys.minute_key(minute), name, count)
        pipe.expire(usage_keys.minute_key(minute), usage_keys.KEY_TTL_SECONDS)
        pipe.execute()

    def cover(self, minute: int, node: str, seconds: int) -> None:
        self.client.hincrby(usage_keys.cover_key(minute), node, seconds)
        self.client.expire(usage_keys.cover_key(minute), usage_keys.KEY_TTL_SECONDS)

    def last_used(self, key_id: str, seconds: int) -> None:
        self.client.hset(usage_keys.LAST_USED_KEY, key_id, seconds)

    def store(self) -> UsageRedis:
        return UsageRedis(self.client)

    def fold(self, now: float | None = None) -> fold.FoldReport:
        return fold.run(
            self.store(),
            now=time.time() if now is None else now,
            settle_seconds=self.settle_seconds,
        )

    def usage_keys(self) -> list[bytes]:
        return sorted(self.client.scan_iter(match="tollgate:usage:*", count=1000))


@pytest.fixture
def usage(usage_redis: "redis.Redis") -> UsageWriter:
    return UsageWriter(usage_redis)


def closed_minute(ago: int = 10) -> int:
    """A minute that ended `ago` minutes ago: closed, and well within the hashes' TTL."""
    return int(time.time()) // 60 - ago

"""Redis away during flushes: the counts are kept, bounded, and written exactly once when
it is back. These tests start a redis-server of their own on a free port and kill it by pid;
the machine's shared Redis is never touched."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis

from tests.accesslog.builders import MINUTE0, T0, entry, message
from tests.accesslog.conftest import Live, Tokens, live_collector, text_hash
from tests.redis_server import OwnRedis

pytestmark = pytest.mark.redis

MINUTE_KEY = f"tollgate:usage:m:{MINUTE0}"


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=60))


def sample(live: Live, name: str) -> float:
    return live.metrics.registry.get_sample_value(name) or 0.0


async def send(
    live: Live, token: str, entries: int, application: int = 4, start: float = T0 + 5
) -> None:
    call = live.stream()
    batch = [entry(application=application, start=start) for _ in range(entries)]
    await call.write(message(batch, node="gw", token=token))
    await call.done_writing()
    await call


def test_counts_kept_while_redis_is_down_are_written_once_when_it_is_back(
    own_redis: OwnRedis, tokens: Tokens
) -> None:
    own_redis.start()
    # The kill below is a SIGKILL: with the default fsync each second, a busy disk may
    # postpone the write of what was flushed just before it (seen once under a loaded CI),
    # which is Redis's durability setting, not the collector's. Every write durable here.
    setup = redis.Redis.from_url(own_redis.url)
    setup.config_set("appendfsync", "always")
    setup.close()

    async def scenario() -> None:
        async with live_collector(own_redis.url, tokens.path) as live:
            await send(live, tokens.envoy, 3)
            assert await live.collector.flush()
            await send(live, tokens.envoy, 2)
            own_redis.kill()
            assert not await live.collector.flush()
            await send(live, tokens.envoy, 4)
            assert not await live.collector.flush()
            assert sample(live, "tollgate_accesslog_flush_errors_total") == 2
            # The cell of the failed flush (kept as sent) and the one counted since.
            assert sample(live, "tollgate_accesslog_pending_dims") == 2
            own_redis.start()
            assert await live.collector.flush()
            assert sample(live, "tollgate_accesslog_pending_dims") == 0
            assert await live.collector.flush()  # nothing left to write twice

    run(scenario)
    r = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        assert r.hget(MINUTE_KEY, "1|2|3|4|2xx|n") == "9"
        assert r.hget(MINUTE_KEY, "1|2|3|4|2xx|bi") == str(9 * 120)
    finally:
        r.close()


def test_beyond_the_bound_the_oldest_counts_are_dropped_and_counted(
    own_redis: OwnRedis, tokens: Tokens
) -> None:
    own_redis.start()

    async def scenario() -> None:
        async with live_collector(own_redis.url, tokens.path, max_pending_dims=2) as live:
            own_redis.kill()
            await send(live, tokens.envoy, 1, application=1)
            assert not await live.collector.flush()
            for application in (2, 3):
                await send(live, tokens.envoy, 1, application=application, start=T0 + 65)
            assert not await live.collector.flush()
            assert sample(live, "tollgate_accesslog_redis_dropped_dims_total") == 1
            assert sample(live, "tollgate_accesslog_pending_dims") == 2
            own_redis.start()
            assert await live.collector.flush()

    run(scenario)
    r = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        assert r.hgetall(MINUTE_KEY) == {}  # the oldest minute went
        later = text_hash(r, f"tollgate:usage:m:{MINUTE0 + 1}")
        assert {k for k in later if k.endswith("|n")} == {"1|2|3|2|2xx|n", "1|2|3|3|2xx|n"}
    finally:
        r.close()


def test_a_collector_started_with_redis_down_serves_and_writes_later(
    own_redis: OwnRedis, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(own_redis.url, tokens.path) as live:
            await send(live, tokens.envoy, 2)
            assert not await live.collector.flush()
            own_redis.start()
            assert await live.collector.flush()

    run(scenario)
    r = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        assert r.hget(MINUTE_KEY, "1|2|3|4|2xx|n") == "2"
    finally:
        r.close()

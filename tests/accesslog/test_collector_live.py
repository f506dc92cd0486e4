"""The collector end to end on loopback: a real grpc.aio server, a real gRPC client sending
StreamAccessLogs messages as Envoy does, and Redis DB 11. Exact counts per dims, nothing
counted from a stream that did not prove its node, and every second of coverage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
import redis

from accesslog.histogram import bucket_of
from accesslog.server import StreamLimits
from accesslog.sink import SCRIPT
from tests.accesslog.builders import MINUTE0, T0, entry, key_id, message
from tests.accesslog.conftest import Live, Tokens, live_collector, text_hash
from xds_server import credentials

pytestmark = pytest.mark.redis

MINUTE_KEY = f"tollgate:usage:m:{MINUTE0}"


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def sample(live: Live, name: str, **labels: str) -> float:
    return live.metrics.registry.get_sample_value(name, labels) or 0.0


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.01)


async def refused(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


async def open_as_envoy(live: Live, tokens: Tokens, entries: list[Any], node: str = "gw") -> Any:
    """A stream whose first message proves it is Envoy's node `node` (credential "gw")."""
    call = live.stream()
    await call.write(message(entries, node=node, token=tokens.envoy))
    return call


async def closed(call: Any) -> None:
    """Envoy ends the stream, and the collector answers it."""
    await call.done_writing()
    await call


async def streams_active(live: Live, count: int) -> None:
    await until(lambda: sample(live, "tollgate_accesslog_streams_active") == count)


async def attributed(live: Live, count: int) -> None:
    await until(
        lambda: sample(live, "tollgate_accesslog_entries_total", outcome="attributed") == count
    )


def h(micros: int) -> str:
    return f"h{bucket_of(micros)}"


def test_counts_per_dims_are_exact_after_a_flush(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path) as live:
            ok = entry(application=4, key=5, total_us=1000, upstream_us=400)
            first = await open_as_envoy(live, tokens, [ok, ok])
            await first.write(
                message(
                    [
                        entry(application=4, status=503, total_us=3000),
                        entry(application=4, status=429, denied=True),
                    ]
                )
            )
            # Another worker thread of the same Envoy.
            second = await open_as_envoy(live, tokens, [ok], node="gw/worker-2")
            for call in (first, second):
                await closed(call)
            assert await live.collector.flush()
            assert sample(live, "tollgate_accesslog_entries_total", outcome="attributed") == 5

    run(scenario)
    assert usage_redis.hgetall(MINUTE_KEY) == {
        "1|2|3|4|2xx|n": "3",
        "1|2|3|4|2xx|bi": "360",
        "1|2|3|4|2xx|bo": "3600",
        "1|2|3|4|2xx|ds": "3000",
        "1|2|3|4|2xx|us": "1200",
        f"1|2|3|4|2xx|{h(1000)}": "3",
        "1|2|3|4|5xx|n": "1",
        "1|2|3|4|5xx|e": "1",
        "1|2|3|4|5xx|bi": "120",
        "1|2|3|4|5xx|bo": "1200",
        "1|2|3|4|5xx|ds": "3000",
        f"1|2|3|4|5xx|{h(3000)}": "1",
        "1|2|3|4|4xx|n": "1",
        "1|2|3|4|4xx|t": "1",
        "1|2|3|4|4xx|bi": "120",
        "1|2|3|4|4xx|bo": "1200",
        "1|2|3|4|4xx|ds": "1500",
        f"1|2|3|4|4xx|{h(1500)}": "1",
    }
    assert 0 < usage_redis.ttl(MINUTE_KEY) <= 3 * 86400
    assert usage_redis.hgetall("tollgate:usage:keys") == {key_id(5): str(MINUTE0 * 60)}


def test_unattributed_entries_are_counted_under_zero_ids_and_never_guessed(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path) as live:
            entries = [
                entry(api=None, version=None, route=None, status=404),
                entry(api="1; DROP", application="abc", status=200),
                entry(api=None, version=None, route=None, status=0, path="/" + "x" * 60_000),
                entry(api="9" * 25, status=999),
                entry(api=7, version="07", route=9, status=200),
            ]
            await closed(await open_as_envoy(live, tokens, entries))
            assert await live.collector.flush()
            assert sample(live, "tollgate_accesslog_entries_total", outcome="unattributed") == 5
            assert sample(live, "tollgate_accesslog_entries_total", outcome="attributed") == 0

    run(scenario)
    counts = text_hash(usage_redis, MINUTE_KEY)
    assert {name for name in counts if name.endswith("|n")} == {
        "0|0|0|0|2xx|n",
        "0|0|0|0|4xx|n",
        "0|0|0|0|other|n",
    }
    assert counts["0|0|0|0|2xx|n"] == "2"
    assert counts["0|0|0|0|other|n"] == "2"
    assert counts["0|0|0|0|other|e"] == "1"  # 999 >= 500
    assert all(name.startswith("0|0|0|0|") for name in counts)


@pytest.mark.parametrize(
    "case",
    [
        ("gw", None, grpc.StatusCode.UNAUTHENTICATED),
        ("gw", "tgx_not-a-known-token-000000000000000000000000", grpc.StatusCode.UNAUTHENTICATED),
        ("gw", "x" * 10_000, grpc.StatusCode.UNAUTHENTICATED),
        ("other", "envoy", grpc.StatusCode.PERMISSION_DENIED),
        ("gwx", "envoy", grpc.StatusCode.PERMISSION_DENIED),
        ("sc", "sidecar", grpc.StatusCode.PERMISSION_DENIED),
        (None, None, grpc.StatusCode.INVALID_ARGUMENT),
    ],
    ids=[
        "no-token",
        "unknown-token",
        "huge-token",
        "envoy-token-other-node",
        "envoy-token-name-prefix",
        "sidecar-token",
        "no-identifier",
    ],
)
def test_a_stream_that_does_not_prove_an_envoy_node_is_refused_and_counts_nothing(
    usage_redis: redis.Redis,
    usage_redis_url: str,
    tokens: Tokens,
    case: tuple[str | None, str | None, grpc.StatusCode],
) -> None:
    node, token, code = case
    secret = {"envoy": tokens.envoy, "sidecar": tokens.sidecar}.get(token or "", token)

    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path) as live:
            call = live.stream()
            await call.write(message([entry(), entry()], node=node, token=secret))
            got, details = await refused(call)
            assert got == code
            if secret:
                assert secret not in details
            assert await live.collector.flush() is True
            assert sample(live, "tollgate_accesslog_entries_total", outcome="refused") == 2
            assert sample(live, "tollgate_accesslog_streams_active") == 0
            reason = code.name.lower()
            assert sample(live, "tollgate_accesslog_auth_refused_total", reason=reason) == 1

    run(scenario)
    assert usage_redis.keys("tollgate:usage:*") == []


def test_a_stream_cannot_switch_node(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path) as live:
            call = await open_as_envoy(live, tokens, [entry()])
            await call.write(message([entry(), entry()], node="gw/other"))
            got, _ = await refused(call)
            assert got == grpc.StatusCode.PERMISSION_DENIED
            assert await live.collector.flush()

    run(scenario)
    assert usage_redis.hget(MINUTE_KEY, "1|2|3|0|2xx|n") == "1"


def test_revoking_the_credential_ends_its_streams(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path) as live:
            call = await open_as_envoy(live, tokens, [entry()])
            await streams_active(live, 1)
            credentials.save(tokens.path, credentials.revoked(credentials.load(tokens.path), "gw"))
            assert live.credentials.reload_if_changed()
            got, details = await refused(call)
            assert got == grpc.StatusCode.UNAUTHENTICATED
            assert "revoked" in details
            assert sample(live, "tollgate_accesslog_streams_active") == 0
            again = await open_as_envoy(live, tokens, [entry()])
            assert (await refused(again))[0] == grpc.StatusCode.UNAUTHENTICATED
            assert await live.collector.flush()

    run(scenario)
    assert usage_redis.hget(MINUTE_KEY, "1|2|3|0|2xx|n") == "1"  # what came before revoking


def test_streams_beyond_the_limit_of_a_credential_are_refused(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        limits = StreamLimits(max_streams_per_credential=2)
        async with live_collector(usage_redis_url, tokens.path, limits=limits) as live:
            for i in range(2):
                await open_as_envoy(live, tokens, [], node=f"gw/{i}")
            await streams_active(live, 2)
            third = await open_as_envoy(live, tokens, [entry()], node="gw/2")
            assert (await refused(third))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED

    run(scenario)


def test_a_keys_last_use_is_written_at_most_once_a_minute(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path) as live:
            call = await open_as_envoy(live, tokens, [entry(key=15)])
            await streams_active(live, 1)
            await attributed(live, 1)
            assert await live.collector.flush()
            assert usage_redis.hget("tollgate:usage:keys", key_id(15)) == str(MINUTE0 * 60)
            # Had the collector written it again this minute, this 0 would be overwritten.
            usage_redis.hset("tollgate:usage:keys", key_id(15), "0")
            await call.write(message([entry(key=15), entry(key=15)]))
            await attributed(live, 3)
            assert await live.collector.flush()
            assert usage_redis.hget("tollgate:usage:keys", key_id(15)) == "0"
            live.clock.now += 60
            await call.write(message([entry(key=15)]))
            await attributed(live, 4)
            assert await live.collector.flush()
            assert usage_redis.hget("tollgate:usage:keys", key_id(15)) == str((MINUTE0 + 1) * 60)

    run(scenario)


def test_coverage_seconds_are_written_per_node_and_minute(
    usage_redis: redis.Redis, usage_redis_url: str, tokens: Tokens
) -> None:
    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path, now=T0 + 30) as live:
            call = await open_as_envoy(live, tokens, [entry()])
            await streams_active(live, 1)
            live.clock.now = T0 + 75
            assert await live.collector.flush()
            await closed(call)
            live.clock.now = T0 + 130
            assert await live.collector.flush()

    run(scenario)
    assert usage_redis.hgetall(f"tollgate:usage:cover:{MINUTE0}") == {"gw": "30"}
    assert usage_redis.hgetall(f"tollgate:usage:cover:{MINUTE0 + 1}") == {"gw": "15"}
    assert 0 < usage_redis.ttl(f"tollgate:usage:cover:{MINUTE0}") <= 3 * 86400
    assert usage_redis.hget("tollgate:usage:nodes", "gw") == str(T0 + 75)


def test_a_node_whose_streams_resume_after_a_gap_is_reported_once(
    usage_redis: redis.Redis,
    usage_redis_url: str,
    tokens: Tokens,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="accesslog")

    async def scenario() -> None:
        async with live_collector(usage_redis_url, tokens.path, now=T0 + 30) as live:
            call = await open_as_envoy(live, tokens, [entry()])
            await streams_active(live, 1)
            await closed(call)
            live.clock.now = T0 + 42.5
            again = await open_as_envoy(live, tokens, [entry()])
            await streams_active(live, 1)
            assert sample(live, "tollgate_accesslog_stream_gap_seconds_count") == 1
            assert sample(live, "tollgate_accesslog_stream_gap_seconds_sum") == 12.5
            await closed(again)
            live.clock.now = T0 + 50
            assert await live.collector.flush()
        # A new run of the collector learns from Redis when the node was last seen.
        async with live_collector(usage_redis_url, tokens.path, now=T0 + 100) as live:
            await open_as_envoy(live, tokens, [entry()])
            await streams_active(live, 1)
            # Last seen when its stream closed (T0 + 42.5, kept in whole seconds).
            assert sample(live, "tollgate_accesslog_stream_gap_seconds_sum") == 58

    run(scenario)
    lines = [r.getMessage() for r in caplog.records if "no access-log stream" in r.getMessage()]
    assert lines == [
        "node gw: no access-log stream for 12.5 s; entries Envoy sent meanwhile were dropped "
        "by Envoy (its access_logs.grpc_access_log.logs_dropped counter)",
        "node gw: no access-log stream for 58.0 s; entries Envoy sent meanwhile were dropped "
        "by Envoy (its access_logs.grpc_access_log.logs_dropped counter)",
    ]
    assert all(tokens.envoy not in r.getMessage() for r in caplog.records)


def test_a_chunk_sent_again_is_counted_once(usage_redis: redis.Redis) -> None:
    marker = "tollgate:usage:flush:test"
    field = "1|2|3|0|2xx|n"

    def chunk(seq: int, value: int) -> Any:
        return usage_redis.eval(SCRIPT, 1, marker, seq, 60, "i", MINUTE_KEY, field, value)

    assert chunk(0, 5) == 1
    assert chunk(0, 5) == 0  # its reply was lost: sent again, skipped
    assert chunk(2, 7) == 1
    assert chunk(1, 100) == 0  # a number below one applied was applied before
    assert usage_redis.hget(MINUTE_KEY, field) == "12"
    assert 0 < usage_redis.ttl(MINUTE_KEY) <= 60


def test_a_last_use_never_goes_backwards(usage_redis: redis.Redis) -> None:
    marker = "tollgate:usage:flush:test"
    key = "tollgate:usage:keys"
    usage_redis.eval(SCRIPT, 1, marker, 0, 60, "m", key, "15", 120, "m", key, "16", 60)
    usage_redis.eval(SCRIPT, 1, marker, 1, 60, "m", key, "15", 60, "m", key, "16", 180)
    assert usage_redis.hgetall(key) == {"15": "120", "16": "180"}

"""The check against the real Redis: exact counts, window bounds, atomicity, responses.

Every test counts against a subscription id of its own, so the machine's shared Redis
needs no flushing. Time is injected (the handler's clock), so window boundaries are hit
on purpose, not by luck.
"""

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis

from protos.tollgate.v1 import resources_pb2
from ratelimit_svc.metrics import RateLimitMetrics
from ratelimit_svc.redis_store import RedisCounterStore
from ratelimit_svc.service import RuleResolver, ShouldRateLimitHandler
from ratelimit_svc.subscription_rules import SubscriptionRules
from ratelimit_svc.throttle_events import STREAM, ThrottleRecorder
from ratelimit_svc.windows import slack
from tests.ratelimit_svc.helpers import (
    FIXED,
    OK,
    OVER_LIMIT,
    Aborted,
    FakeContext,
    headers,
    limits,
    loaded_rules,
    parse,
    remaining,
    request,
    shards,
    window,
)

pytestmark = pytest.mark.redis


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Mid-second, mid-minute: tests that must not cross a boundary start far from one.
T0 = 1_800_000_000.5


@pytest.fixture
def store(machine_redis: str) -> RedisCounterStore:
    return RedisCounterStore(machine_redis, timeout=1.0)


def make_handler(
    store: RedisCounterStore,
    rules: SubscriptionRules,
    clock: Callable[[], float],
    metrics: RateLimitMetrics | None = None,
    throttles: ThrottleRecorder | None = None,
) -> ShouldRateLimitHandler:
    return ShouldRateLimitHandler(
        RuleResolver(rules, None), store, metrics or RateLimitMetrics(), throttles, clock
    )


def call(handler: ShouldRateLimitHandler, subscription: int, hits: int = 0):
    return parse(handler(request(subscription, hits=hits), FakeContext()))  # type: ignore[arg-type]


def test_n_plus_5_sequential_calls_admit_exactly_n_and_remaining_drops_by_one(
    store: RedisCounterStore, unique: int
) -> None:
    n = 25
    rules = loaded_rules(limits(unique, [window(n, 3600, unit="hour")]))
    handler = make_handler(store, rules, Clock(T0))
    codes, left = [], []
    for _ in range(n + 5):
        response = call(handler, unique)
        codes.append(response.overall_code)
        left.append(remaining(response, "hour"))
    assert codes == [OK] * n + [OVER_LIMIT] * 5
    assert left[:n] == list(range(n - 1, -1, -1))
    assert left[n:] == [0] * 5


def admitted_times(
    store: RedisCounterStore, unique: int, win: resources_pb2.RateLimitWindow, times: list[float]
) -> list[float]:
    clock = Clock(times[0])
    handler = make_handler(store, loaded_rules(limits(unique, [win])), clock)
    admitted = []
    for t in times:
        clock.now = t
        if call(handler, unique).overall_code == OK:
            admitted.append(t)
    return admitted


def most_in_any_interval(times: list[float], length: float) -> int:
    """The largest number of `times` inside any half-open interval of `length` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= length:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_sliding_window_admits_no_burst_at_a_boundary(
    store: RedisCounterStore, unique: int
) -> None:
    n = 10
    boundary = 1_800_000_060.0  # a minute boundary, and so a second's
    # n calls just before the boundary, then n just after it.
    times = [boundary - 0.05 + i * 0.001 for i in range(n)] + [
        boundary + 0.01 + i * 0.001 for i in range(n)
    ]
    admitted = admitted_times(store, unique, window(n, 1), times)
    assert len(admitted) == n
    assert most_in_any_interval(admitted, 1.0) == n


def test_fixed_window_admits_up_to_twice_the_limit_across_a_boundary(
    store: RedisCounterStore, unique: int
) -> None:
    n = 10
    boundary = 1_800_000_060.0
    times = [boundary - 0.05 + i * 0.001 for i in range(n)] + [
        boundary + 0.01 + i * 0.001 for i in range(n)
    ]
    admitted = admitted_times(store, unique, window(n, 1, algorithm=FIXED), times)
    # The stated bound of a fixed window: n per aligned window, 2n across the boundary.
    assert len(admitted) == 2 * n
    assert most_in_any_interval(admitted, 1.0) == 2 * n


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sliding_window_bounds_hold_under_random_traffic(
    store: RedisCounterStore, unique: int, seed: int
) -> None:
    """Never more than N + slack in any W, never more than N + L*N/W in any L (the GCRA
    rule), and refused only when the GCRA level or the window is really full."""
    n, seconds = 5, 1
    rng = random.Random(seed)
    t = 1_800_000_000.0
    times = []
    for _ in range(300):
        t += rng.expovariate(12.0)  # more than the limit on average, bursty
        times.append(round(t, 3))
    admitted = admitted_times(store, unique, window(n, seconds), times)
    cap = n + slack(n, 1000, 20)
    assert most_in_any_interval(admitted, seconds) <= cap
    for length in (0.5, 2.0, 5.0):
        # GCRA: a burst of n, then n per window; the tolerance is 10 ms.
        assert most_in_any_interval(admitted, length) <= n + (length + 0.01) * n / seconds
    assert len(admitted) > n  # the window did slide


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_client_pacing_at_its_limit_with_jitter_is_never_refused(
    store: RedisCounterStore, unique: int, seed: int
) -> None:
    rng = random.Random(seed)
    clock = Clock(1_800_000_000.0)
    handler = make_handler(store, loaded_rules(limits(unique, [window(10, 1)])), clock)
    for i in range(101):
        clock.now = 1_800_000_000.0 + i * 0.1 + rng.uniform(-0.005, 0.005)
        response = call(handler, unique)
        assert response.overall_code == OK, f"call {i} refused"
        reset = int(headers(response)["ratelimit"].split(";t=")[1])
        assert reset <= 1  # `t` never exceeds the window


def test_a_flood_is_held_to_the_limit_plus_the_slack_in_every_second(
    store: RedisCounterStore, unique: int
) -> None:
    n = 10
    times = [1_800_000_000.0 + i * 0.002 for i in range(5000)]  # 500 calls a second, 10 s
    admitted = admitted_times(store, unique, window(n, 1), times)
    assert most_in_any_interval(admitted, 1.0) <= n + slack(n, 1000, 20)
    # GCRA holds the long run to n a second, after a first burst of n.
    assert 10 * n <= len(admitted) <= 11 * n


def test_hitting_one_limit_does_not_consume_the_others(
    store: RedisCounterStore, unique: int
) -> None:
    rules = loaded_rules(limits(unique, [window(3, 1), window(100, 86_400, unit="day")]))
    handler = make_handler(store, rules, Clock(T0))
    responses = [call(handler, unique) for _ in range(8)]
    assert [r.overall_code for r in responses] == [OK] * 3 + [OVER_LIMIT] * 5
    # The five refused calls left the daily budget alone.
    assert remaining(responses[-1], "day") == 97
    assert remaining(responses[-1], "second") == 0


def test_an_expensive_route_counts_as_its_cost(store: RedisCounterStore, unique: int) -> None:
    handler = make_handler(
        store, loaded_rules(limits(unique, [window(10, 60, unit="minute")])), Clock(T0)
    )
    first, second, third = (call(handler, unique, hits=4) for _ in range(3))
    assert (first.overall_code, second.overall_code, third.overall_code) == (OK, OK, OVER_LIMIT)
    assert remaining(second, "minute") == 2
    assert call(handler, unique, hits=2).overall_code == OK  # what is left still fits


def test_a_call_costing_more_than_the_limit_is_never_admitted(
    store: RedisCounterStore, unique: int
) -> None:
    handler = make_handler(
        store, loaded_rules(limits(unique, [window(10, 60, unit="minute")])), Clock(T0)
    )
    for hits in (11, 10**15):  # the second is absurd: capped, refused, no overflow
        response = call(handler, unique, hits=hits)
        assert response.overall_code == OVER_LIMIT
        problem = json.loads(response.raw_body)
        assert "can never be admitted" in problem["detail"]
        assert "retry-after" not in headers(response)
    assert remaining(call(handler, unique), "minute") == 9  # nothing was consumed


def test_over_limit_answer_is_a_problem_with_retry_after(
    store: RedisCounterStore, unique: int
) -> None:
    clock = Clock(1_800_000_000.0)
    handler = make_handler(
        store, loaded_rules(limits(unique, [window(2, 60, unit="minute")])), clock
    )
    call(handler, unique)
    clock.now += 20.0
    call(handler, unique)
    clock.now += 5.0
    refused = call(handler, unique)
    assert refused.overall_code == OVER_LIMIT
    found = headers(refused)
    assert found["content-type"] == "application/problem+json"
    assert found["ratelimit-policy"] == '"minute";q=2;w=60'
    # 2 per minute is one every 30 s: at t=25 s the level is 7/6 calls; one more fits
    # once it drains to 1 (plus the 10 ms tolerance), 4.99 s from now.
    assert found["retry-after"] == "5"
    problem = json.loads(refused.raw_body)
    assert problem["type"] == "https://tollgate.dev/problems/rate-limited"
    assert problem["status"] == 429
    assert problem["limit"] == "2 per minute"
    assert problem["retry_after"] == 5
    status = refused.statuses[0]
    assert status.code == OVER_LIMIT
    assert status.current_limit.requests_per_unit == 2
    assert status.limit_remaining == 0
    # Admitted again exactly when Retry-After said.
    clock.now += 4.98
    assert call(handler, unique).overall_code == OVER_LIMIT
    clock.now += 0.02
    assert call(handler, unique).overall_code == OK


def test_shadow_limits_are_counted_never_enforced(store: RedisCounterStore, unique: int) -> None:
    metrics = RateLimitMetrics()
    rules = loaded_rules(limits(unique, [window(2, 60, unit="minute", shadow=True)]))
    handler = make_handler(store, rules, Clock(T0), metrics)
    responses = [call(handler, unique) for _ in range(5)]
    assert [r.overall_code for r in responses] == [OK] * 5
    assert "ratelimit" not in headers(responses[-1])  # clients see enforced limits only
    label = "plan:gold:2 per minute"
    assert metrics.shadow.labels(label)._value.get() == 3
    assert metrics.over_limit.labels(label)._value.get() == 0
    assert metrics.total.labels(label)._value.get() == 5


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[arg-type]


def test_monthly_quota_resets_on_the_subscriptions_anniversary(
    store: RedisCounterStore, unique: int
) -> None:
    anchor = int(ts(2028, 1, 31, 10))
    quota = resources_pb2.RateLimitQuota(requests=3, period_months=1, anchor=anchor)
    clock = Clock(ts(2028, 2, 28, 12))
    handler = make_handler(store, loaded_rules(limits(unique, quota=quota)), clock)
    assert [call(handler, unique).overall_code for _ in range(4)] == [OK] * 3 + [OVER_LIMIT]
    refused = call(handler, unique)
    problem = json.loads(refused.raw_body)
    assert problem["type"] == "https://tollgate.dev/problems/quota-exceeded"
    assert "2028-02-29T10:00:00Z" in problem["detail"]  # leap day: the clamped anniversary
    clock.now = ts(2028, 2, 29, 9, 59, 59)
    assert call(handler, unique).overall_code == OVER_LIMIT
    clock.now = ts(2028, 2, 29, 10)
    assert call(handler, unique).overall_code == OK
    assert remaining(call(handler, unique), "quota") == 1


def test_a_changed_limit_applies_to_the_very_next_check(
    store: RedisCounterStore, unique: int
) -> None:
    rules = loaded_rules(limits(unique, [window(2, 3600, unit="hour")]))
    handler = make_handler(store, rules, Clock(T0))
    assert [call(handler, unique).overall_code for _ in range(3)] == [OK, OK, OVER_LIMIT]
    rules.replace_shards(shards([limits(unique, [window(5, 3600, unit="hour")])]))
    assert call(handler, unique).overall_code == OK  # counted hits are kept: 3 of 5 now
    assert remaining(call(handler, unique), "hour") == 1


def test_unknown_subscription_is_counted_as_unmatched_and_admitted(
    store: RedisCounterStore, unique: int
) -> None:
    metrics = RateLimitMetrics()
    handler = make_handler(store, loaded_rules(), Clock(T0), metrics)
    assert call(handler, unique).overall_code == OK
    assert metrics.unmatched.labels("tollgate")._value.get() == 1


def test_before_limits_arrive_the_check_is_unavailable(store: RedisCounterStore) -> None:
    handler = make_handler(store, SubscriptionRules(), Clock(T0))
    with pytest.raises(Aborted) as aborted:
        call(handler, 1)
    assert aborted.value.code.name == "UNAVAILABLE"


def test_an_empty_domain_is_an_invalid_argument(store: RedisCounterStore) -> None:
    handler = make_handler(store, loaded_rules(), Clock(T0))
    with pytest.raises(Aborted) as aborted:
        handler(request(1, domain=""), FakeContext())  # type: ignore[arg-type]
    assert aborted.value.code.name == "INVALID_ARGUMENT"


def test_throttled_calls_are_recorded_with_the_applications_identity(
    store: RedisCounterStore, machine_redis: str, unique: int
) -> None:
    client = redis.Redis.from_url(machine_redis, decode_responses=True)
    last = client.xrevrange(STREAM, count=1)
    since = last[0][0] if last else "0"
    throttles = ThrottleRecorder(store.publish)
    rules = loaded_rules(limits(unique, [window(1, 3600, unit="hour")], application_id=4242))
    handler = make_handler(store, rules, Clock(T0), throttles=throttles)
    for _ in range(4):
        call(handler, unique)
    throttles.flush()
    events = [
        fields
        for _, fields in client.xrange(STREAM, min=f"({since}")
        if fields["subscription_id"] == str(unique)
    ]
    assert len(events) == 1
    assert events[0]["application_id"] == "4242"
    assert events[0]["count"] == "3"  # three refusals, one entry
    assert events[0]["limit"] == "plan:gold:1 per hour"
    assert events[0]["kind"] == "rate"


def test_the_compilers_cost_entry_counts_the_call_that_many_times(
    store: RedisCounterStore, unique: int
) -> None:
    handler = make_handler(
        store, loaded_rules(limits(unique, [window(10, 60, unit="minute")])), Clock(T0)
    )
    costly = request(unique, extra=(("application", "7"), ("route", "3"), ("cost", "6")))
    first = parse(handler(costly, FakeContext()))  # type: ignore[arg-type]
    assert remaining(first, "minute") == 4
    assert parse(handler(costly, FakeContext())).overall_code == OVER_LIMIT  # type: ignore[arg-type]

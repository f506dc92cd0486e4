"""Leases against the real check.lua and release.lua: never over-admitting across sidecars,
under-admission recovered once leftovers are given back, a lowered limit honoured at
once, and the ext_authz meter end to end (two sidecars, and Redis unreachable).

Keys are isolated per test by a subscription id of its own (`unique`). The simulated
sidecars here use the sync store with an injected time; the meter tests use asyncio.
"""

import asyncio
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import redis

from extauthz.meter import UNAVAILABLE, UNMETERED, Meter, Outcome, Unavailable
from mgmt.embedded.processes import free_port
from protos.tollgate.v1 import resources_pb2
from ratelimit_svc.async_redis_store import AsyncCounterStore
from ratelimit_svc.counters import PreparedRule, plan_counters
from ratelimit_svc.leases import MAX_LEASE, Admitted, LeaseBook, Refused, Release
from ratelimit_svc.limits import Algorithm, Quota, Rule, Window
from ratelimit_svc.local_limits import LocalLimits
from ratelimit_svc.redis_store import RELEASE_SCRIPT, RedisCounterStore, ScriptResult
from ratelimit_svc.subscription_rules import SubscriptionRules
from ratelimit_svc.verdicts import Reading, policy_header, refusal, state_header
from tests.ratelimit_svc.helpers import limits, shards, window
from tests.redis_server import OwnRedis

pytestmark = pytest.mark.redis

# Mid-hour and mid-month: a test of a few simulated seconds crosses no window boundary.
T0 = 1_800_001_800_000

GiveBack = Callable[[Release, int], None]


@pytest.fixture
def store(machine_redis: str) -> RedisCounterStore:
    return RedisCounterStore(machine_redis, timeout=1.0)


@pytest.fixture
def give_back(machine_redis: str) -> GiveBack:
    """release.lua, called as the async store calls it but at the simulated time."""
    script = redis.Redis.from_url(machine_redis).register_script(RELEASE_SCRIPT)

    def run(release: Release, now_ms: int) -> None:
        script(keys=list(release.keys), args=[str(release.units), str(now_ms), *release.args])

    return run


def subscription_rule(
    unique: int, windows: tuple[Window, ...], quota: Quota | None = None
) -> PreparedRule:
    return PreparedRule.of(
        Rule(
            tag=f"s{unique}",
            stem="",
            label="plan:gold",
            windows=windows,
            quota=quota,
            subscription_id=str(unique),
        )
    )


@dataclass
class Sidecar:
    """One sidecar's lease book driven the way extauthz.meter drives it, on the sync store."""

    store: RedisCounterStore
    give_back: GiveBack
    book: LeaseBook = field(default_factory=LeaseBook)
    admitted: int = 0
    from_lease: int = 0
    redis_refusals: int = 0
    memory_refusals: int = 0

    def ask(
        self, rule: PreparedRule, cost: int, now_ms: int
    ) -> tuple[Admitted | Refused, ScriptResult | None]:
        """The outcome, and check.lua's answer (None when memory decided)."""
        book = self.book
        state = book.state(rule)
        book.arrive(state, now_ms)
        taken = book.take(state, cost, now_ms)
        if isinstance(taken, Admitted):
            self.admitted += cost
            self.from_lease += cost
            return taken, None
        if isinstance(taken, Refused):
            self.memory_refusals += 1
            return taken, None
        extra = book.extra_wanted(state, cost)
        leftover = book.take_back(state)
        if leftover is not None:
            self.give_back(leftover, now_ms)
        counters, keys, args = plan_counters([(rule, cost)], now_ms, extra)
        result = self.store.check(keys, args)
        readings = [Reading.of(c, result, i, now_ms) for i, c in enumerate(counters)]
        if result.admitted:
            self.admitted += cost
            book.granted(state, counters, readings, result.granted, now_ms)
            return book.admitted_headers(state, now_ms), result
        self.redis_refusals += 1
        body, retry_after = refusal(readings, now_ms)
        retry_ms = max(r.retry_ms for r in readings if r.over and not r.counter.shadow)
        refused = Refused(body, retry_after, policy_header(readings), state_header(readings))
        book.refused(state, cost, refused, now_ms + retry_ms, now_ms)
        return refused, result


def exact_check(store: RedisCounterStore, rule: PreparedRule, now_ms: int) -> ScriptResult:
    _, keys, args = plan_counters([(rule, 1)], now_ms)
    return store.check(keys, args)


@dataclass(frozen=True)
class Case:
    windows: tuple[Window, ...]
    quota: Quota | None
    costs: tuple[int, ...]
    most_ms_per_step: int  # slower traffic for small limits, so leases start before the end


CASES = {
    "sliding-100-per-hour": Case((Window(100, 3600, unit="hour"),), None, (1,), 6),
    "fixed-150-per-hour": Case(
        (Window(150, 3600, algorithm=Algorithm.FIXED, unit="hour"),), None, (1, 1, 2), 6
    ),
    "sliding-1000-per-hour": Case((Window(1000, 3600, unit="hour"),), None, (1, 1, 1, 2, 5), 2),
    "quota-800": Case((), Quota(800), (1, 1, 1, 2, 5), 2),
    "minute-hour-and-quota": Case(
        (Window(50_000, 60, unit="minute"), Window(2000, 3600, unit="hour")),
        Quota(700),
        (1, 1, 1, 2, 5),
        2,
    ),
}


def sweep(
    sidecars: list[Sidecar], give_back: GiveBack, now_ms: int, everything: bool = False
) -> None:
    """Give back expired leases (the meter's sweep), or every lease (a sidecar stopping)."""
    for sidecar in sidecars:
        book = sidecar.book
        for release in book.forget(set()) if everything else book.expired(now_ms):
            give_back(release, now_ms)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", sorted(CASES))
def test_sidecars_sharing_leases_never_over_admit_and_recover_every_leftover(
    store: RedisCounterStore, give_back: GiveBack, unique: int, kind: str, seed: int
) -> None:
    case = CASES[kind]
    rule = subscription_rule(unique, case.windows, case.quota)
    limit = min([w.limit for w in rule.windows] + ([rule.quota.limit] if rule.quota else []))
    rng = random.Random(seed)
    sidecars = [Sidecar(store, give_back) for _ in range(3)]
    now = T0
    leases_seen = 0
    after_last_refused = 300  # steps once every sidecar was refused: leases run out
    for step in range(20 * limit):
        if all(s.redis_refusals for s in sidecars):
            after_last_refused -= 1
            if after_last_refused == 0:
                break
        now += rng.randint(0, case.most_ms_per_step)
        if step % 25 == 0:  # the meter's sweep
            sweep(sidecars, give_back, now)
        sidecar = rng.choice(sidecars)
        cost = rng.choice(case.costs)
        before = sum(s.admitted for s in sidecars)
        held_by_others = sum(s.book.outstanding() for s in sidecars if s is not sidecar)
        outcome, result = sidecar.ask(rule, cost, now)
        assert sum(s.admitted for s in sidecars) <= limit
        assert sum(s.book.outstanding() for s in sidecars) <= len(sidecars) * MAX_LEASE
        if result is not None:
            leases_seen += result.granted > 0
            # Everything admitted, and every lease not yet used, is counted in Redis.
            for i, counter in enumerate(plan_counters([(rule, cost)], now)[0]):
                assert result.used(i) == before + held_by_others, counter.metric
            if isinstance(outcome, Refused):
                # Under-admission only from leases held elsewhere: Redis refuses only
                # when what is admitted and held leaves no room for this cost.
                assert before + held_by_others + cost > limit
    assert after_last_refused == 0, "the sidecars never all reached the limit"
    assert now - T0 < 3000  # no sliding window here drains a whole unit meanwhile
    assert leases_seen > 0
    assert sum(s.from_lease for s in sidecars) > 0

    now += 1
    sweep(sidecars, give_back, now, everything=True)
    admitted = sum(s.admitted for s in sidecars)
    result = exact_check(store, rule, now)
    for i, counter in enumerate(plan_counters([(rule, 1)], now)[0]):
        assert result.used(i) == admitted, counter.metric
        if counter.limit == limit:
            assert result.fit(i) == limit - admitted, counter.metric
        else:
            assert result.fit(i) >= counter.limit - admitted, counter.metric


def test_a_lease_is_counted_at_once_and_its_leftover_given_back_exactly(
    store: RedisCounterStore, give_back: GiveBack, unique: int
) -> None:
    rule = subscription_rule(unique, (Window(100, 3600, unit="hour"),))
    counters, keys, args = plan_counters([(rule, 1)], T0, 40)
    result = store.check(keys, args)
    lease = result.granted
    assert result.admitted and 12 < lease <= 40
    seen = exact_check(store, rule, T0)
    assert seen.used(0) == 1 + lease
    assert seen.fit(0) == 100 - 1 - lease
    book = LeaseBook()
    state = book.state(rule)
    readings = [Reading.of(c, result, i, T0) for i, c in enumerate(counters)]
    book.granted(state, counters, readings, result.granted, T0)
    for _ in range(12):
        assert isinstance(book.take(state, 1, T0 + 1), Admitted)
    leftover = book.take_back(state)
    assert leftover is not None and leftover.units == lease - 12
    give_back(leftover, T0 + 2)
    after = exact_check(store, rule, T0 + 2)
    assert after.used(0) == 1 + 1 + 12  # the two checks before and the lease's 12
    assert after.fit(0) == 100 - 14


def test_an_unused_lease_given_back_leaves_the_counters_as_an_exact_check_would(
    store: RedisCounterStore, give_back: GiveBack, unique: int
) -> None:
    rule = subscription_rule(unique, (Window(10, 1), Window(100, 3600, unit="hour")), Quota(1000))
    counters, keys, args = plan_counters([(rule, 1)], T0, 8)
    result = store.check(keys, args)
    assert result.granted > 0
    book = LeaseBook()
    state = book.state(rule)
    readings = [Reading.of(c, result, i, T0) for i, c in enumerate(counters)]
    book.granted(state, counters, readings, result.granted, T0)
    (release,) = book.expired(T0 + 300)
    give_back(release, T0 + 300)
    seen = exact_check(store, rule, T0 + 300)
    assert [seen.used(i) for i in range(3)] == [1, 1, 1]
    # The lease is off the second's GCRA level, and the one call left drained in 300 ms.
    assert seen.debt(0) == 0
    assert seen.fit(0) == 10
    assert (seen.fit(1), seen.fit(2)) == (99, 999)


@pytest.mark.parametrize("extra", [1, 2, 20, 63])
def test_check_lua_never_grants_more_than_asked_nor_half_of_what_is_left(
    store: RedisCounterStore, unique: int, extra: int
) -> None:
    rule = subscription_rule(unique, (Window(100, 3600, unit="hour"),))
    granted = []
    counted = 0
    for _ in range(200):
        _, keys, args = plan_counters([(rule, 1)], T0, extra)
        result = store.check(keys, args)
        if not result.admitted:
            break
        left = result.fit(0) - 1  # beyond this call
        assert result.fit(0) == 100 - counted
        assert 0 <= result.granted <= min(extra, left // 2)
        granted.append(result.granted)
        counted += 1 + result.granted
    assert counted <= 100
    assert granted[-1] == 0  # near the limit a lease shrinks to nothing
    assert exact_check(store, rule, T0).used(0) == counted


@pytest.mark.parametrize("extra", [1, 2, 20, 40])
def test_check_lua_grants_all_the_extra_asked_when_plenty_is_left(
    store: RedisCounterStore, unique: int, extra: int
) -> None:
    rule = subscription_rule(unique, (Window(100, 3600, unit="hour"),))
    _, keys, args = plan_counters([(rule, 1)], T0, extra)
    result = store.check(keys, args)
    assert result.admitted
    assert result.granted == extra  # 99 are left: half of them is 49


def test_a_lease_never_admits_past_a_lowered_limit(
    store: RedisCounterStore, machine_redis: str, unique: int
) -> None:
    async def main() -> None:
        rules = SubscriptionRules()
        rules.replace_shards(shards([limits(unique, [window(100, 3600, unit="hour")])]))
        clock = Clock(time.time())
        counters = AsyncCounterStore(machine_redis, timeout=1.0)
        meter = Meter(rules, counters, clock=clock)
        try:
            old = meter.rule_of(str(unique))
            assert old is not None
            admitted = 0
            for _ in range(60):  # 500 per second at this sidecar: it gets a lease
                clock.now += 0.002
                outcome = await settle(meter.count(old, 1, True))
                assert isinstance(outcome, Admitted)
                admitted += 1
            held = meter.book.outstanding()
            assert held > 0
            from_lease = meter.from_lease._value.get()
            assert from_lease > 0

            rules.replace_shards(shards([limits(unique, [window(10, 3600, unit="hour")])]))
            new = meter.rule_of(str(unique))
            assert new is not None and new is not old
            # The counters are the same: everything admitted and the lease are counted.
            seen = exact_check(store, new, int(clock.now * 1000))
            assert not seen.admitted
            assert seen.used(0) == admitted + held
            for _ in range(5):
                clock.now += 0.002
                outcome = await settle(meter.count(new, 1, True))
                assert isinstance(outcome, Refused)
                assert outcome.retry_after is not None and outcome.retry_after > 0
                assert '"hour";q=10;w=3600' in outcome.policy
            assert meter.from_lease._value.get() == from_lease
            # The old lease stays untouched until it expires and is given back.
            assert meter.book.outstanding() == held
        finally:
            await counters.close()

    asyncio.run(main())


def test_a_lowered_sliding_limit_admits_again_within_one_window(
    store: RedisCounterStore, unique: int
) -> None:
    old = subscription_rule(unique, (Window(100, 3600, unit="hour"),))
    _, keys, args = plan_counters([(old, 75)], T0)
    assert store.check(keys, args).admitted
    new = subscription_rule(unique, (Window(10, 3600, unit="hour"),))
    assert not exact_check(store, new, T0 + 1000).admitted
    an_hour_later = T0 + 3600_000 + 60_000  # the window and one bucket
    assert exact_check(store, new, an_hour_later).admitted


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def settle(outcome: Outcome | Awaitable[Outcome]) -> Outcome:
    if isinstance(outcome, Admitted | Refused | Unavailable):
        return outcome
    return await outcome


def meter_rules(
    unique: int,
    *windows: resources_pb2.RateLimitWindow,
    quota: resources_pb2.RateLimitQuota | None = None,
) -> SubscriptionRules:
    rules = SubscriptionRules()
    rules.replace_shards(shards([limits(unique, list(windows), quota=quota)]))
    return rules


@pytest.mark.parametrize("n", [300, 700])
def test_two_sidecars_hammering_one_subscription_admit_exactly_n(
    machine_redis: str, unique: int, n: int
) -> None:
    async def main() -> tuple[int, list[int], int]:
        rules = meter_rules(unique, window(n, 3600, unit="hour"))
        stores = [AsyncCounterStore(machine_redis, timeout=1.0) for _ in range(2)]
        meters = [Meter(rules, s) for s in stores]
        rule = meters[0].rule_of(str(unique))
        assert rule is not None
        admitted = [0, 0]
        refused = [0, 0]
        rng = random.Random(n)
        give_up = time.monotonic() + 20
        # Both sidecars refused, then longer than a lease lives: every lease is used or back.
        settled_at = [give_up]

        async def hammer(side: int) -> None:
            meter = meters[side]
            while time.monotonic() < min(give_up, settled_at[0]):
                outcome = await settle(meter.count(rule, 1, True))
                if isinstance(outcome, Admitted):
                    admitted[side] += 1
                else:
                    assert isinstance(outcome, Refused), outcome
                    assert outcome.retry_after is not None and outcome.retry_after > 0
                    refused[side] += 1
                    if min(refused) == 1 and settled_at[0] == give_up:
                        settled_at[0] = time.monotonic() + 0.5
                # About 600 calls a second per sidecar: leases start long before the limit.
                await asyncio.sleep(rng.uniform(0, 0.02))

        sweeps = [asyncio.create_task(m.sweep(0.02)) for m in meters]
        try:
            await asyncio.gather(*(hammer(side) for side in (0, 1) for _ in range(6)))
            for meter, s in zip(meters, stores, strict=True):
                await s.release(meter.book.forget(set()))
        finally:
            for sweep in sweeps:
                sweep.cancel()
            for s in stores:
                await s.close()
        leased = int(sum(m.from_lease._value.get() for m in meters))
        return sum(admitted), refused, leased

    total, refused, leased = asyncio.run(main())
    assert total == n
    assert min(refused) > 0  # both sidecars hammered past the limit
    assert leased > n // 4  # leases did much of the work, not only exact checks
    sync = RedisCounterStore(machine_redis, timeout=1.0)
    rule = meter_rules(unique, window(n, 3600, unit="hour")).rule(str(unique))
    assert rule is not None
    left = exact_check(sync, rule, int(time.time() * 1000))
    assert left.used(0) == n and not left.admitted


def test_fail_closed_route_is_unavailable_when_redis_is_unreachable(unique: int) -> None:
    async def main() -> list[Outcome]:
        rules = meter_rules(unique, window(10, 3600, unit="hour"))
        counters = AsyncCounterStore(f"redis://127.0.0.1:{free_port()}/0", probe_interval=5)
        meter = Meter(rules, counters)
        rule = meter.rule_of(str(unique))
        assert rule is not None
        try:
            return [await settle(meter.count(rule, 1, True)) for _ in range(20)]
        finally:
            await counters.close()

    outcomes = asyncio.run(main())
    assert outcomes == [UNAVAILABLE] * 20


def test_fail_open_route_admits_its_local_share_then_refuses_when_redis_is_unreachable(
    unique: int,
) -> None:
    async def main() -> tuple[list[Outcome], float]:
        rules = meter_rules(unique, window(10, 3600, unit="hour"))
        counters = AsyncCounterStore(f"redis://127.0.0.1:{free_port()}/0", probe_interval=5)
        meter = Meter(rules, counters, local=LocalLimits(sidecars=2))
        rule = meter.rule_of(str(unique))
        assert rule is not None
        try:
            outcomes = [await settle(meter.count(rule, 1, False)) for _ in range(8)]
        finally:
            await counters.close()
        return outcomes, meter.local_checks.labels("refused")._value.get()

    outcomes, refused_locally = asyncio.run(main())
    assert outcomes[:5] == [UNMETERED] * 5
    for outcome in outcomes[5:]:
        assert isinstance(outcome, Refused)
        # One call per 720 s at this sidecar's share of 5 per hour.
        assert outcome.retry_after is not None and 600 <= outcome.retry_after <= 720
        assert b"unreachable" in outcome.body
    assert refused_locally == 3


def test_a_check_that_times_out_after_redis_admitted_the_limit_is_not_admitted_again_locally(
    own_redis: OwnRedis, unique: int
) -> None:
    """Slow is not down: a stalled Redis (SIGSTOP: late answers, not refusals) makes a check
    time out, and the local count it falls back to already holds what Redis admitted here."""
    own_redis.start()
    assert own_redis.child is not None
    pid = own_redis.child.popen.pid

    async def main() -> tuple[list[Outcome], Outcome]:
        rules = meter_rules(unique, window(10, 3600, unit="hour"))
        counters = AsyncCounterStore(own_redis.url, timeout=0.05, probe_interval=5)
        meter = Meter(rules, counters, local=LocalLimits(sidecars=1))
        rule = meter.rule_of(str(unique))
        assert rule is not None
        try:
            admitted = [await settle(meter.count(rule, 1, False)) for _ in range(10)]
            os.kill(pid, signal.SIGSTOP)
            try:
                late = await settle(meter.count(rule, 1, False))
            finally:
                os.kill(pid, signal.SIGCONT)
        finally:
            await counters.close()
        return admitted, late

    admitted, late = asyncio.run(main())
    assert all(isinstance(outcome, Admitted) for outcome in admitted)
    assert isinstance(late, Refused) and b"unreachable" in late.body


def test_calls_admitted_locally_while_redis_was_down_are_added_to_the_meter_when_it_returns(
    own_redis: OwnRedis, unique: int
) -> None:
    """The meter of record bills what was admitted: units a fail-open sidecar admitted alone
    are added to the quota's (here: the billing meter's) bucket once Redis answers again."""
    own_redis.start()
    quota = resources_pb2.RateLimitQuota(period_months=1, anchor=1_700_000_000, meter=True)

    async def main() -> tuple[list[Outcome], int]:
        rules = meter_rules(unique, window(100, 3600, unit="hour"), quota=quota)
        counters = AsyncCounterStore(own_redis.url, timeout=0.2, probe_interval=0.05)
        meter = Meter(rules, counters, local=LocalLimits(sidecars=1))
        rule = meter.rule_of(str(unique))
        assert rule is not None and rule.quota is not None
        sweeper = asyncio.create_task(meter.sweep(0.02))
        try:
            outcomes = [await settle(meter.count(rule, 1, False))]
            await asyncio.sleep(0.6)  # any lease of that call given back
            own_redis.kill()
            outcomes += [await settle(meter.count(rule, 2, False)) for _ in range(3)]
            own_redis.start()
            deadline = time.monotonic() + 10
            while meter.owed or not counters.healthy:
                assert time.monotonic() < deadline, "the owed units were never added"
                await asyncio.sleep(0.05)
        finally:
            sweeper.cancel()
            await counters.close()
        now_ms = int(time.time() * 1000)
        bucket = str(rule.quota.period_at(now_ms).index)
        client = redis.Redis.from_url(own_redis.url)
        try:
            counted = int(client.hget(rule.quota.key, bucket) or 0)
        finally:
            client.close()
        return outcomes, counted

    outcomes, counted = asyncio.run(main())
    assert all(isinstance(o, Admitted) for o in outcomes)
    assert outcomes[1:] == [UNMETERED] * 3  # counted locally
    assert counted == 1 + 3 * 2


def test_a_fail_open_cost_above_the_local_share_is_refused_without_retry_after(
    unique: int,
) -> None:
    async def main() -> Outcome:
        rules = meter_rules(unique, window(10, 3600, unit="hour"))
        counters = AsyncCounterStore(f"redis://127.0.0.1:{free_port()}/0", probe_interval=5)
        meter = Meter(rules, counters, local=LocalLimits(sidecars=2))
        rule = meter.rule_of(str(unique))
        assert rule is not None
        try:
            return await settle(meter.count(rule, 6, False))
        finally:
            await counters.close()

    outcome = asyncio.run(main())
    assert isinstance(outcome, Refused) and outcome.retry_after is None


def test_a_refusal_caused_by_a_lease_given_back_since_does_not_outlive_it(
    store: RedisCounterStore, give_back: GiveBack, unique: int
) -> None:
    rule = subscription_rule(unique, (Window(100, 3600, unit="hour"),))
    a, b = Sidecar(store, give_back), Sidecar(store, give_back)
    now = T0
    state_b = b.book.state(rule)
    for i in range(200):  # B sees 1000 calls a second: it wants a full lease
        b.book.arrive(state_b, now - 200 + i)
    outcome, result = b.ask(rule, 1, now)
    assert isinstance(outcome, Admitted) and result is not None
    lease = result.granted
    assert lease >= 20
    while a.redis_refusals == 0:
        now += 1
        a.ask(rule, 1, now)
    assert a.admitted == 100 - 1 - lease
    now += 300  # B's lease expires unused and is given back
    releases = b.book.expired(now)
    assert [r.units for r in releases] == [lease]
    give_back(releases[0], now)
    assert exact_check(store, rule, now).fit(0) == lease
    outcome, _ = a.ask(rule, 1, now + 1)
    assert isinstance(outcome, Admitted), outcome


def test_fail_open_shares_only_the_quota_redis_last_said_was_left(own_redis: OwnRedis) -> None:
    own_redis.start()
    subscription = 4242

    async def main() -> int:
        rules = meter_rules(
            subscription,
            window(1000, 1),
            quota=resources_pb2.RateLimitQuota(requests=10, period_months=1),
        )
        counters = AsyncCounterStore(own_redis.url, probe_interval=5)
        clock = Clock(time.time())
        meter = Meter(rules, counters, clock=clock)
        rule = meter.rule_of(str(subscription))
        assert rule is not None
        admitted = 0
        try:
            for _ in range(9):  # one a second: exact checks, no lease
                clock.now += 1
                outcome = await settle(meter.count(rule, 1, False))
                assert isinstance(outcome, Admitted) and outcome.policy
                admitted += 1
            assert meter.book.outstanding() == 0
            own_redis.kill()
            for _ in range(20):
                clock.now += 1
                if await settle(meter.count(rule, 1, False)) == UNMETERED:
                    admitted += 1
        finally:
            await counters.close()
        return admitted

    assert asyncio.run(main()) <= 10

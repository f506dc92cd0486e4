"""A sidecar's lease book without Redis: arrival-rate lease sizing, admitting from a lease,
expiry and give-back, remembered refusals, and a fresh state for a changed limit.

check.lua's answers are built by hand here (its header comment gives the layout); the
same paths against the real script are in test_leases_on_redis.py.
"""

import random

import pytest

from ratelimit_svc.counters import PreparedRule, plan_counters
from ratelimit_svc.leases import (
    LEASE_TTL_MS,
    MAX_LEASE,
    RATE_SLOT_MS,
    Admitted,
    LeaseBook,
    Refused,
    Release,
    RuleState,
)
from ratelimit_svc.limits import Algorithm, Quota, Rule, Window
from ratelimit_svc.redis_store import NOT_OVER, ScriptResult
from ratelimit_svc.verdicts import Reading

pytestmark = pytest.mark.pure

# Mid-hour (and mid-month): no window boundary is crossed by accident.
T0 = 1_800_001_800_000


def prepared(
    requests: int = 100,
    seconds: int = 3600,
    *,
    unit: str = "hour",
    subscription: str = "1",
    extra_windows: tuple[Window, ...] = (),
    quota: Quota | None = None,
) -> PreparedRule:
    window = Window(requests, seconds, unit=unit)
    return PreparedRule.of(
        Rule(
            tag=f"s{subscription}",
            stem="",
            label="plan:gold",
            windows=(window, *extra_windows),
            quota=quota,
            subscription_id=subscription,
        )
    )


def grant(book: LeaseBook, state: RuleState, cost: int, extra: int, now_ms: int) -> None:
    """Record what check.lua answers for `cost` units plus `extra` on empty counters."""
    counters, _, _ = plan_counters([(state.rule, cost)], now_ms, extra)
    values = [1, extra]
    for counter in counters:
        # used, first, fit, free, wait, debt: nothing counted yet, the whole limit fits.
        values += [0, -1, counter.limit, NOT_OVER, NOT_OVER, 0]
    result = ScriptResult(values)
    readings = [Reading.of(c, result, i, now_ms) for i, c in enumerate(counters)]
    book.granted(state, counters, readings, result.granted, now_ms)


def parse_state(header: str) -> dict[str, tuple[int, int]]:
    """`"hour";r=98;t=36, ...` -> {policy: (r, t)}."""
    parsed = {}
    for item in header.split(", "):
        name, *params = item.split(";")
        values = dict(p.split("=") for p in params)
        parsed[name.strip('"')] = (int(values["r"]), int(values["t"]))
    return parsed


def feed(book: LeaseBook, state: RuleState, start_ms: int, per_slot: int, slots: int) -> int:
    """`per_slot` arrivals evenly spread over each of `slots` rate slots; the end time."""
    total = per_slot * slots
    for i in range(total):
        book.arrive(state, start_ms + i * RATE_SLOT_MS // per_slot)
    return start_ms + slots * RATE_SLOT_MS


# Lease sizing from the arrival rate.


def test_a_cold_rule_wants_no_extra_units() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    assert book.extra_wanted(state, 1) == 0
    book.arrive(state, T0)
    assert book.extra_wanted(state, 1) == 0


def test_sustained_arrivals_grow_the_wanted_extra_slot_by_slot() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    now = T0
    wanted = []
    for _ in range(12):
        now = feed(book, state, now, per_slot=20, slots=1)
        wanted.append(book.extra_wanted(state, 1))
    assert wanted == sorted(wanted)
    assert wanted[0] < wanted[-1]
    # 20 per 100 ms is 200 per second: a horizon of 100 ms is about 20 units.
    assert 15 <= wanted[-1] <= 20


@pytest.mark.parametrize("cost", [1, 2, 10, 63, 64, 100, 255, 256, 300])
def test_the_wanted_extra_never_exceeds_max_lease_minus_cost(cost: int) -> None:
    book = LeaseBook()
    state = book.state(prepared())
    now = T0
    for _ in range(30):
        now = feed(book, state, now, per_slot=1000, slots=1)
        assert 0 <= book.extra_wanted(state, cost) <= max(0, MAX_LEASE - cost)
    assert book.extra_wanted(state, cost) == max(0, MAX_LEASE - cost)


def test_a_smaller_max_lease_caps_the_wanted_extra() -> None:
    book = LeaseBook(max_lease=8)
    state = book.state(prepared())
    feed(book, state, T0, per_slot=100, slots=20)
    assert book.extra_wanted(state, 1) == 7
    assert book.extra_wanted(state, 8) == 0


def test_after_silence_the_wanted_extra_drops_back_to_zero() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    now = feed(book, state, T0, per_slot=50, slots=20)
    assert book.extra_wanted(state, 1) > 0
    book.arrive(state, now + 10_000)
    assert book.extra_wanted(state, 1) == 0


# Admitting from a lease.


def test_take_admits_exactly_the_lease_units_then_asks_redis() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    grant(book, state, 1, 5, T0)
    outcomes = [book.take(state, 1, T0 + i) for i in range(7)]
    assert all(isinstance(o, Admitted) for o in outcomes[:5])
    assert outcomes[5:] == [None, None]
    assert book.outstanding() == 0


def test_take_of_a_cost_above_the_leftover_asks_redis_and_keeps_the_leftover() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    grant(book, state, 1, 5, T0)
    assert isinstance(book.take(state, 2, T0), Admitted)
    assert isinstance(book.take(state, 2, T0), Admitted)
    assert book.take(state, 2, T0) is None
    assert book.outstanding() == 1
    assert isinstance(book.take(state, 1, T0), Admitted)


def test_a_rule_without_a_lease_asks_redis() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    assert book.take(state, 1, T0) is None
    grant(book, state, 1, 0, T0)  # an exact check: no extra granted
    assert book.take(state, 1, T0) is None


def test_an_expired_lease_admits_nothing_and_is_given_back_with_exactly_its_unused_units() -> None:
    book = LeaseBook()
    rule = prepared()
    state = book.state(rule)
    grant(book, state, 1, 10, T0)
    for _ in range(3):
        assert isinstance(book.take(state, 1, T0 + 1), Admitted)
    expires = T0 + LEASE_TTL_MS
    assert book.expired(expires - 1) == []
    assert isinstance(book.take(state, 1, expires - 1), Admitted)
    assert book.take(state, 1, expires) is None
    releases = book.expired(expires)
    counters, keys, _ = plan_counters([(rule, 1)], T0)
    interval = repr(3600 * 1000 / 100)
    assert releases == [Release(6, tuple(keys), (str(counters[0].current), interval))]
    assert book.outstanding() == 0
    assert book.expired(expires + 1) == []


def test_take_back_returns_the_leftover_once() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    assert book.take_back(state) is None
    grant(book, state, 1, 4, T0)
    book.take(state, 1, T0)
    release = book.take_back(state)
    assert release is not None and release.units == 3
    assert book.take_back(state) is None
    assert book.take(state, 1, T0) is None


def test_a_used_up_lease_gives_nothing_back() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    grant(book, state, 1, 2, T0)
    book.take(state, 2, T0)
    assert book.take_back(state) is None


def test_release_names_every_counter_with_its_bucket_and_gcra_interval() -> None:
    book = LeaseBook()
    rule = prepared(
        10,
        1,
        unit="second",
        extra_windows=(Window(1000, 3600, algorithm=Algorithm.FIXED, unit="hour"),),
        quota=Quota(100_000),
    )
    state = book.state(rule)
    grant(book, state, 1, 3, T0)
    release = book.take_back(state)
    counters, keys, _ = plan_counters([(rule, 1)], T0)
    assert release is not None
    assert release.keys == tuple(keys)
    assert release.args == (
        str(counters[0].current),
        repr(100.0),
        str(counters[1].current),
        "0",
        str(counters[2].current),
        "0",
    )


def test_forget_gives_back_the_leases_of_rules_no_longer_live() -> None:
    book = LeaseBook()
    kept, dropped = prepared(subscription="1"), prepared(subscription="2")
    grant(book, book.state(kept), 1, 4, T0)
    grant(book, book.state(dropped), 1, 7, T0)
    assert book.outstanding() == 11
    releases = book.forget({id(kept)})
    assert [r.units for r in releases] == [7]
    assert book.outstanding() == 4
    assert [r.units for r in book.forget(set())] == [4]


# Remembered refusals.


def remember(book: LeaseBook, state: RuleState, cost: int, until_ms: int) -> Refused:
    refusal = Refused(b'{"status":429}', 5, '"hour";q=100;w=3600', '"hour";r=0;t=36')
    book.refused(state, cost, refusal, until_ms, T0)
    return refusal


@pytest.mark.parametrize("cost", [3, 4, 100])
def test_a_remembered_refusal_refuses_equal_or_higher_costs_until_its_time(cost: int) -> None:
    book = LeaseBook(ttl_ms=10_000)  # longer than the refusals below
    state = book.state(prepared())
    refusal = remember(book, state, 3, T0 + 5000)
    for now in (T0, T0 + 2500, T0 + 4999):
        refused = book.take(state, cost, now)
        assert isinstance(refused, Refused)
        assert (refused.body, refused.policy, refused.state) == (
            refusal.body,
            refusal.policy,
            refusal.state,
        )
    assert book.take(state, cost, T0 + 5000) is None
    assert book.take(state, cost, T0 + 60_000) is None


def test_a_remembered_refusal_never_refuses_a_cheaper_request() -> None:
    book = LeaseBook(ttl_ms=10_000)  # longer than the refusals below
    state = book.state(prepared())
    grant(book, state, 1, 10, T0)
    remember(book, state, 3, T0 + 5000)
    assert isinstance(book.take(state, 2, T0), Admitted)
    assert isinstance(book.take(state, 1, T0 + 1), Admitted)
    assert isinstance(book.take(state, 3, T0 + 1), Refused)
    assert book.outstanding() == 7
    bare = book.state(prepared(subscription="2"))
    remember(book, bare, 3, T0 + 5000)
    assert book.take(bare, 2, T0) is None  # no lease: Redis is asked


def test_retry_after_of_a_remembered_refusal_counts_down() -> None:
    book = LeaseBook(ttl_ms=10_000)  # longer than the refusals below
    state = book.state(prepared())
    remember(book, state, 1, T0 + 5000)
    seen = []
    for now in (T0, T0 + 1, T0 + 1000, T0 + 2500, T0 + 4000, T0 + 4001, T0 + 4999):
        refused = book.take(state, 1, now)
        assert isinstance(refused, Refused)
        seen.append(refused.retry_after)
    assert seen == [5, 5, 4, 3, 1, 1, 1]


def test_a_remembered_refusal_lasts_no_longer_than_a_lease() -> None:
    """Another sidecar may give units back meanwhile: Redis is asked again after ttl_ms,
    while Retry-After still says when the request would fit."""
    book = LeaseBook(ttl_ms=250)
    state = book.state(prepared())
    remember(book, state, 1, T0 + 5000)
    refused = book.take(state, 1, T0 + 249)
    assert isinstance(refused, Refused) and refused.retry_after == 5
    assert book.take(state, 1, T0 + 250) is None


def test_a_refusal_that_can_never_fit_is_remembered_for_as_long_as_the_rule_lives() -> None:
    book = LeaseBook(ttl_ms=10_000)  # longer than the refusals below
    state = book.state(prepared())
    never = Refused(b"never", None, "p", "s")
    book.refused(state, 101, never, T0, T0)
    assert book.take(state, 101, T0 + 10**9) is never
    assert book.take(state, 500, T0 + 10**9) is never
    assert book.take(state, 100, T0 + 10**9) is None


def test_a_grant_lifts_a_remembered_refusal() -> None:
    book = LeaseBook()
    state = book.state(prepared())
    remember(book, state, 1, T0 + 60_000)
    grant(book, state, 1, 3, T0 + 10)
    assert isinstance(book.take(state, 1, T0 + 11), Admitted)


# A changed limit (envoyproxy/ratelimit #1077).


def test_a_changed_limit_gets_a_fresh_state_without_lease_or_refusal() -> None:
    book = LeaseBook()
    old = prepared(100)
    state = book.state(old)
    grant(book, state, 1, 20, T0)
    remember(book, state, 50, T0 + 60_000)
    new = prepared(10)  # the same subscription and counters, a new limit
    fresh = book.state(new)
    assert fresh is not state
    assert fresh.rule is new
    assert fresh.lease is None
    assert fresh.blocked_until_ms == 0
    assert fresh.policy == ""
    assert book.take(fresh, 1, T0 + 1) is None
    assert book.take(fresh, 50, T0 + 1) is None
    assert book.state(old) is state
    assert isinstance(book.take(state, 1, T0 + 1), Admitted)


def test_the_same_rule_keeps_its_state() -> None:
    book = LeaseBook()
    rule = prepared()
    assert book.state(rule) is book.state(rule)


def test_idle_states_are_forgotten_once_their_lease_is_given_back() -> None:
    book = LeaseBook()
    rule = prepared()
    state = book.state(rule)
    book.arrive(state, T0)
    grant(book, state, 1, 3, T0)
    assert [r.units for r in book.expired(T0 + LEASE_TTL_MS)] == [3]
    assert book.state(rule) is state
    book.expired(T0 + 100_000)
    assert book.state(rule) is not state


# The RateLimit state header from a lease.


@pytest.mark.parametrize("seed", range(5))
def test_state_from_a_lease_drops_by_the_cost_each_take_and_t_stays_within_the_window(
    seed: int,
) -> None:
    rng = random.Random(seed)
    rule = prepared(
        1000,
        3600,
        unit="hour",
        extra_windows=(
            Window(50, 1, unit="second"),
            Window(5000, 86_400, algorithm=Algorithm.FIXED, unit="day"),
        ),
        quota=Quota(100_000),
    )
    seconds = {"hour": 3600, "second": 1, "day": 86_400}
    book = LeaseBook()
    state = book.state(rule)
    now = T0
    grant(book, state, 2, 40, now)
    before = parse_state(book.admitted_headers(state, now).state)
    assert set(before) == {"hour", "second", "day", "quota"}
    assert before["hour"][0] == 998 and before["second"][0] == 48
    while True:
        cost = rng.randint(1, 5)
        now += rng.randint(0, 40)
        taken = book.take(state, cost, now)
        if taken is None:
            break
        assert isinstance(taken, Admitted)
        assert taken.policy == state.policy
        after = parse_state(taken.state)
        for policy, (left, t) in after.items():
            assert left == before[policy][0] - cost
            # A lease's units count as they are taken, so t may grow, never past the window.
            assert 0 <= t <= seconds.get(policy, 31 * 86_400)
        before = after


def test_t_from_a_lease_grows_with_the_units_taken_from_it() -> None:
    book = LeaseBook()
    state = book.state(prepared(100))
    grant(book, state, 1, 20, T0)
    assert parse_state(book.admitted_headers(state, T0).state)["hour"] == (99, 36)
    taken = None
    for _ in range(10):
        taken = book.take(state, 1, T0)
    assert isinstance(taken, Admitted)
    left, t = parse_state(taken.state)["hour"]
    assert left == 89
    assert t >= 11 * 36


# The draft-03 x-ratelimit-* values: the tightest limit's.


def test_the_tightest_limit_from_a_lease_is_the_one_with_least_remaining() -> None:
    rule = prepared(1000, extra_windows=(Window(50, 1, unit="second"),), quota=Quota(100_000))
    book = LeaseBook()
    state = book.state(rule)
    grant(book, state, 2, 20, T0)
    first = book.admitted_headers(state, T0, tightest=True)
    assert first.tightest == (50, 1, 48, 1)
    assert book.admitted_headers(state, T0).tightest is None
    taken = book.take(state, 3, T0 + 10, tightest=True)
    assert isinstance(taken, Admitted)
    assert taken.tightest == (50, 1, 45, 1)
    # Remaining drops by the 3 taken; the hour's t grows by 3 x 3.6 s (its pace).
    assert parse_state(taken.state) == {
        "hour": (995, 18),
        "second": (45, 1),
        "quota": (99995, parse_state(first.state)["quota"][1]),
    }
    plain = book.take(state, 1, T0 + 10)
    assert isinstance(plain, Admitted) and plain.tightest is None


def test_a_rule_with_only_shadow_limits_shows_no_tightest_limit() -> None:
    rule = PreparedRule.of(
        Rule(tag="s1", stem="", label="plan:gold", windows=(Window(10, 1, shadow=True),))
    )
    book = LeaseBook()
    state = book.state(rule)
    grant(book, state, 1, 4, T0)
    taken = book.take(state, 1, T0, tightest=True)
    assert taken == Admitted("", "", None)


# Topping up ahead of time.


def test_a_lease_half_used_asks_for_a_top_up_and_the_top_up_adds_to_it() -> None:
    book = LeaseBook()
    state = book.state(prepared(1000))
    grant(book, state, 1, 20, T0)  # 20 units, low water 10
    for _ in range(9):
        assert isinstance(book.take(state, 1, T0), Admitted)
    assert not book.needs_top_up(state)
    assert isinstance(book.take(state, 1, T0), Admitted)
    assert book.needs_top_up(state)  # 10 left
    state.inflight = object()  # a Redis call pending: never two at once
    assert not book.needs_top_up(state)
    state.inflight = None

    counters, _, _ = plan_counters([(state.rule, 0)], T0, 30)
    # Redis counted 1 + 20 before; 979 fit now; 30 more are granted.
    values = [1, 30]
    for counter in counters:
        values += [21, 0, counter.limit - 21, NOT_OVER, NOT_OVER, 0]
    result = ScriptResult(values)
    readings = [Reading.of(c, result, i, T0) for i, c in enumerate(counters)]
    assert book.topped_up(state, counters, readings, 30, T0) is None
    assert book.outstanding() == 40
    # What the client sees: 979 that Redis has left, plus the 10 this sidecar still holds.
    admitted = book.take(state, 1, T0)
    assert isinstance(admitted, Admitted)
    assert parse_state(admitted.state)["hour"][0] == 979 + 10 - 1


def test_a_top_up_that_arrives_after_the_lease_ended_is_given_back() -> None:
    book = LeaseBook()
    state = book.state(prepared(1000))
    counters, _, _ = plan_counters([(state.rule, 0)], T0, 30)
    values = [1, 30]
    for counter in counters:
        values += [0, -1, counter.limit, NOT_OVER, NOT_OVER, 0]
    result = ScriptResult(values)
    readings = [Reading.of(c, result, i, T0) for i, c in enumerate(counters)]
    release = book.topped_up(state, counters, readings, 30, T0)
    assert release is not None and release.units == 30

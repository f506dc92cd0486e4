"""A sidecar's own share of each limit while Redis is down: never unlimited, paced like
Redis paces, the quota shared from what Redis last said was left."""

import random

import pytest

from ratelimit_svc.counters import PreparedRule
from ratelimit_svc.limits import Quota, Rule, Window
from ratelimit_svc.local_limits import LocalLimits
from ratelimit_svc.windows import WindowShape

pytestmark = pytest.mark.pure

T0 = 1_800_000_000_500


def prepared(*windows: Window, quota: Quota | None = None) -> PreparedRule:
    return PreparedRule.of(Rule(tag="s1", stem="", label="plan:gold", windows=windows, quota=quota))


TEN_PER_SECOND = Window(10, 1)


def test_two_sidecars_each_admit_half_a_window_at_once_then_refuse_with_a_positive_wait() -> None:
    local = LocalLimits(sidecars=2)
    rule = prepared(TEN_PER_SECOND)
    assert [local.admit(rule, 1, T0) for _ in range(5)] == [0] * 5
    wait = local.admit(rule, 1, T0)
    assert 0 < wait <= 200  # one call per 200 ms at this sidecar's share of 5 per second
    assert local.admit(rule, 1, T0 + wait) == 0


def test_one_sidecar_paces_ten_per_second_with_jitter_for_a_hundred_calls() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(TEN_PER_SECOND)
    rng = random.Random(7)
    waits = [local.admit(rule, 1, T0 + i * 100 + rng.randint(-5, 5)) for i in range(100)]
    assert waits == [0] * 100


def test_one_sidecar_refuses_a_flood_after_the_burst_until_one_interval_passes() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(TEN_PER_SECOND)
    assert [local.admit(rule, 1, T0) for _ in range(10)] == [0] * 10
    wait = local.admit(rule, 1, T0)
    assert 90 <= wait <= 100
    assert local.admit(rule, 1, T0 + wait - 10) > 0
    assert local.admit(rule, 1, T0 + wait) == 0


@pytest.mark.parametrize(
    ("sidecars", "window"), [(2, TEN_PER_SECOND), (1, Window(100, 3600, unit="hour"))]
)
def test_a_flood_gets_no_more_than_the_share_plus_slack_in_one_window(
    sidecars: int, window: Window
) -> None:
    local = LocalLimits(sidecars=sidecars)
    rule = prepared(window)
    window_ms = window.seconds * 1000
    step = max(1, window_ms // 10_000)
    admitted = sum(local.admit(rule, 1, T0 + ms) == 0 for ms in range(0, window_ms, step))
    share = window.requests // sidecars
    shape = WindowShape.of(Window(share, window.seconds))
    assert admitted <= shape.cap


@pytest.mark.parametrize(("sidecars", "cost"), [(1, 11), (2, 6), (3, 4), (10, 2)])
def test_a_cost_above_this_sidecars_share_never_fits(sidecars: int, cost: int) -> None:
    local = LocalLimits(sidecars=sidecars)
    assert local.admit(prepared(TEN_PER_SECOND), cost, T0) == -1


def test_a_cost_at_the_share_fits_once() -> None:
    local = LocalLimits(sidecars=2)
    rule = prepared(TEN_PER_SECOND)
    assert local.admit(rule, 5, T0) == 0
    assert local.admit(rule, 5, T0) > 0


def test_every_sidecar_gets_at_least_one_call() -> None:
    local = LocalLimits(sidecars=4)
    rule = prepared(Window(2, 3600, unit="hour"))
    assert local.admit(rule, 1, T0) == 0
    assert local.admit(rule, 1, T0) > 0


def test_shadow_windows_are_not_enforced() -> None:
    local = LocalLimits(sidecars=2)
    rule = prepared(Window(2, 1, shadow=True), Window(100, 60, unit="minute"))
    assert [local.admit(rule, 1, T0) for _ in range(50)] == [0] * 50
    assert local.admit(rule, 1, T0) > 0  # the enforced minute's share of 50 is used up
    assert local.admit(rule, 51, T0) == -1


def test_a_shadow_quota_is_not_enforced() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(Window(1000, 1), quota=Quota(3, shadow=True))
    assert [local.admit(rule, 1, T0) for _ in range(10)] == [0] * 10


def test_a_rule_with_only_shadow_limits_admits_everything() -> None:
    local = LocalLimits(sidecars=3)
    rule = prepared(Window(1, 1, shadow=True))
    assert [local.admit(rule, 5, T0) for _ in range(20)] == [0] * 20


def test_the_quota_share_is_of_the_whole_quota_when_redis_never_said() -> None:
    local = LocalLimits(sidecars=2)
    rule = prepared(Window(10**6, 1), quota=Quota(40))
    assert [local.admit(rule, 1, T0) for _ in range(20)] == [0] * 20
    assert local.admit(rule, 1, T0) == -1


def test_the_quota_share_is_of_what_redis_last_said_was_left() -> None:
    local = LocalLimits(sidecars=2)
    rule = prepared(Window(10**6, 1), quota=Quota(1000))
    assert [local.admit(rule, 1, T0, quota_left=10) for _ in range(5)] == [0] * 5
    assert local.admit(rule, 1, T0, quota_left=10) == -1


def test_quota_left_counts_only_the_first_time_a_rule_is_seen() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(Window(10**6, 1), quota=Quota(1000))
    assert local.admit(rule, 2, T0, quota_left=3) == 0
    assert local.admit(rule, 1, T0, quota_left=500) == 0
    assert local.admit(rule, 1, T0, quota_left=500) == -1


def test_a_quota_used_up_in_redis_admits_nothing_locally() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(Window(10**6, 1), quota=Quota(1000))
    assert local.admit(rule, 1, T0, quota_left=0) == -1


def test_what_redis_admitted_here_leaves_only_the_rest_of_the_share_to_local_admits() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(TEN_PER_SECOND)
    local.charge(rule, 9, T0)  # a check and its lease, admitted by Redis through this sidecar
    # Checks that time out a moment later are admitted locally only within what is left of
    # the share: 10 at once (the pace), 9 of them taken; never a fresh 10 beside Redis's 9.
    admitted = sum(local.admit(rule, 1, T0 + 10) == 0 for _ in range(20))
    assert admitted == 1
    # A second on, the window has room for a second's worth again, not more.
    later = sum(local.admit(rule, 1, T0 + 1100) == 0 for _ in range(20))
    assert later == 10


def test_a_charge_takes_what_redis_says_is_left_of_the_quota() -> None:
    local = LocalLimits(sidecars=2)
    rule = prepared(Window(10**6, 1), quota=Quota(1000))
    local.charge(rule, 1, T0, quota_left=6)  # the quota's share: 3 units
    assert [local.admit(rule, 1, T0) for _ in range(3)] == [0, 0, 0]
    assert local.admit(rule, 1, T0) == -1


def test_prune_forgets_a_rule_only_once_its_units_have_left_their_windows() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(Window(5, 3600, unit="hour"))
    local.charge(rule, 5, T0)
    local.prune(T0 + 60_000)
    assert local.rules_held == 1 and local.admit(rule, 1, T0 + 60_000) > 0
    local.prune(T0 + 3_600_000 * 2 + 1)
    assert local.rules_held == 0


def test_a_new_rule_object_starts_its_own_count() -> None:
    local = LocalLimits(sidecars=1)
    old = prepared(Window(2, 60, unit="minute"))
    assert [local.admit(old, 1, T0) for _ in range(2)] == [0, 0]
    assert local.admit(old, 1, T0) > 0
    new = prepared(Window(5, 60, unit="minute"))
    assert [local.admit(new, 1, T0) for _ in range(5)] == [0] * 5


def test_a_refused_call_is_not_counted() -> None:
    local = LocalLimits(sidecars=1)
    rule = prepared(TEN_PER_SECOND)
    for _ in range(10):
        local.admit(rule, 1, T0)
    for _ in range(100):
        assert local.admit(rule, 1, T0 + 50) > 0
    assert local.admit(rule, 1, T0 + 100) == 0


@pytest.mark.parametrize("sidecars", [0, -1])
def test_fewer_than_one_sidecar_is_refused(sidecars: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalLimits(sidecars)

"""mgmt's limits as the sidecar holds them: sharded, replaced whole, refused when unsound."""

import pytest

from protos.tollgate.v1 import resources_pb2
from ratelimit_svc.limits import Algorithm
from ratelimit_svc.subscription_rules import RulesRefused, SubscriptionRules
from tests.ratelimit_svc.helpers import FIXED, limits, loaded_rules, shards, window

pytestmark = pytest.mark.pure


def test_rules_are_found_by_the_subscription_id_the_descriptor_carries() -> None:
    quota = resources_pb2.RateLimitQuota(requests=1000, period_months=1, anchor=1_700_000_000)
    rules = loaded_rules(
        limits(42, [window(10, 1), window(500, 86_400, unit="day", algorithm=FIXED)], quota=quota),
        limits(43),
    )
    found = rules.rule("42")
    assert found is not None
    assert [w.window.label for w in found.windows] == ["10 per second", "500 per day"]
    assert found.windows[1].window.algorithm is Algorithm.FIXED
    assert found.quota is not None and found.quota.quota.requests == 1000
    assert found.rule.application_id == "7" and found.rule.label == "plan:gold"
    assert {w.key.split(":")[1] for w in found.windows} == {"{s42}"}
    unlimited = rules.rule("43")
    assert unlimited is not None and unlimited.key_count == 0
    assert rules.rule("44") is None
    assert rules.rule("not-a-number") is None
    assert rules.subscription_count == 2


def test_unchanged_shards_keep_their_prepared_rules() -> None:
    rules = loaded_rules(limits(1, [window(5, 60, unit="minute")]), limits(2, [window(5, 1)]))
    before = rules.rule("2")
    rules.replace_shards(
        shards([limits(1, [window(9, 60, unit="minute")]), limits(2, [window(5, 1)])])
    )
    assert rules.rule("2") is before
    changed = rules.rule("1")
    assert changed is not None and changed.windows[0].window.requests == 9


def test_listeners_hear_of_every_applied_update() -> None:
    rules = SubscriptionRules()
    heard: list[bool] = []
    rules.subscribe(lambda: heard.append(rules.loaded))
    rules.replace_shards(shards([]))
    assert heard == [True]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (lambda: shards([])[:-1], "missing"),
        (lambda: [b"\xff\xff"], "undecodable"),
        (
            lambda: [
                resources_pb2.RateLimitShard(
                    name="rate-limits/0", index=0, shard_count=16, subscriptions=[limits(3)]
                ).SerializeToString()
            ],
            "belongs in another shard",
        ),
        (lambda: shards([limits(5, [window(0, 60)])]), "requests must be between 1"),
        (lambda: shards([limits(5, [window(10, 0)])]), "a window must last"),
    ],
)
def test_unsound_updates_are_refused_and_the_last_good_rules_stay(values, message: str) -> None:  # type: ignore[no-untyped-def]
    rules = loaded_rules(limits(1, [window(5, 1)]))
    with pytest.raises(RulesRefused, match=message):
        rules.replace_shards(values())
    assert rules.rule("1") is not None

"""Rate limits in the compiled snapshot: per-subscription shards, two filters, route entries."""

import dataclasses
import json
import random

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import GatewaySettings, PlanRow, RouteRow, SubscriptionRow
from mgmt.compiler.listener import EXT_AUTHZ_FILTER
from mgmt.compiler.sidecar_resources import RATE_LIMIT_SHARDS, rate_limit_shards
from protos.tollgate.v1 import resources_pb2
from ratelimit_svc import descriptors
from ratelimit_svc.problems import RATE_LIMIT_UNAVAILABLE
from tests.mgmt.compiler_rows import demo_rows, random_rows, window
from xds_server import type_urls

pytestmark = pytest.mark.pure
GATEWAY = GatewaySettings(listen_port=10000)
Window = resources_pb2.RateLimitWindow


def _set(message, type_url):  # type: ignore[no-untyped-def]
    return next(s for s in message.sets if s.type_url == type_url)


def _unpack(any_message, cls):  # type: ignore[no-untyped-def]
    out = cls()
    assert any_message.Unpack(out)
    return out


def _compiled(rows, gateway=GATEWAY):  # type: ignore[no-untyped-def]
    compiled = compile_snapshot(rows, gateway)
    assert compiled.errors == ()
    return compiled.snapshot


def _limits(snapshot) -> dict[int, resources_pb2.SubscriptionLimits]:  # type: ignore[no-untyped-def]
    found = {}
    for resource in _set(snapshot, type_urls.RATE_LIMIT_SHARD).resources:
        shard = _unpack(resource.body, resources_pb2.RateLimitShard)
        for limits in shard.subscriptions:
            assert limits.subscription_id not in found
            found[limits.subscription_id] = limits
    return found


def _manager(snapshot) -> hcm_pb2.HttpConnectionManager:  # type: ignore[no-untyped-def]
    listener = _unpack(_set(snapshot, type_urls.LISTENER).resources[0].body, listener_pb2.Listener)
    return _unpack(listener.filter_chains[0].filters[0].typed_config, hcm_pb2.HttpConnectionManager)


def _rate_limit_configs(snapshot) -> dict[str, rate_limit_pb2.RateLimit]:  # type: ignore[no-untyped-def]
    return {
        f.name: _unpack(f.typed_config, rate_limit_pb2.RateLimit)
        for f in _manager(snapshot).http_filters
        if f.name.startswith("tollgate.ratelimit.")
    }


def _route(rows, route_id=1) -> rc_pb2.Route:  # type: ignore[no-untyped-def]
    config = _unpack(
        _set(_compiled(rows), type_urls.ROUTE).resources[0].body, route_pb2.RouteConfiguration
    )
    return next(
        r for vh in config.virtual_hosts for r in vh.routes if r.name == f"route.{route_id}"
    )


def _with_limits(plan: PlanRow, *subs: SubscriptionRow):  # type: ignore[no-untyped-def]
    return dataclasses.replace(demo_rows(), plans=(plan,), subscriptions=subs)


FREE = PlanRow(
    1,
    "free",
    "Free",
    1,
    windows=(window(10, 1, "second"), window(100, 1, "minute"), window(1000, 1, "hour")),
)


def test_an_override_replaces_the_plans_window_of_the_same_length_and_adds_new_ones():
    partner = SubscriptionRow(
        7,
        1,
        1,
        "free",
        plan_id=1,
        # 60 seconds is the plan's 1 minute: replaced, not added beside it.
        windows=(window(5000, 1, "day"), window(500, 60, "second", algorithm="fixed")),
    )
    limits = _limits(_compiled(_with_limits(FREE, partner)))[7]

    assert [(w.requests, w.window_seconds, w.unit, w.algorithm) for w in limits.windows] == [
        (10, 1, "second", Window.SLIDING),
        (500, 60, "second", Window.FIXED),
        (1000, 3600, "hour", Window.SLIDING),
        (5000, 86_400, "day", Window.SLIDING),
    ]
    assert (limits.application_id, limits.plan) == (1, "free")


def test_a_subscription_without_overrides_gets_its_plans_windows_and_shadow_flags():
    plan = dataclasses.replace(FREE, windows=(window(100, 1, "minute", shadow=True),))
    limits = _limits(_compiled(_with_limits(plan, SubscriptionRow(1, 1, 1, "free", plan_id=1))))[1]
    assert [(w.requests, w.window_seconds, w.shadow) for w in limits.windows] == [(100, 60, True)]


def test_the_quota_is_the_override_else_the_plans_anchored_at_the_subscriptions_start():
    plan = dataclasses.replace(FREE, quota_requests=1000, quota_period_months=12, quota_shadow=True)
    plain = SubscriptionRow(1, 1, 1, "free", plan_id=1, started_at=1_700_000_000)
    raised = SubscriptionRow(
        2, 2, 1, "free", plan_id=1, started_at=1_710_000_000, quota_requests=50_000
    )
    limits = _limits(_compiled(_with_limits(plan, plain, raised)))

    assert (limits[1].quota.requests, limits[1].quota.anchor) == (1000, 1_700_000_000)
    assert (limits[2].quota.requests, limits[2].quota.anchor) == (50_000, 1_710_000_000)
    assert {limits[1].quota.period_months, limits[2].quota.period_months} == {12}
    assert limits[1].quota.shadow and limits[2].quota.shadow


def test_a_quota_override_adds_a_quota_when_the_plan_has_none():
    subs = (
        SubscriptionRow(1, 1, 1, "free", plan_id=1),
        SubscriptionRow(2, 2, 1, "free", plan_id=1, started_at=1_700_000_000, quota_requests=99),
    )
    limits = _limits(_compiled(_with_limits(FREE, *subs)))
    assert not limits[1].HasField("quota")
    assert limits[2].HasField("quota")
    assert (limits[2].quota.requests, limits[2].quota.period_months) == (99, 1)
    assert limits[2].quota.anchor == 1_700_000_000


@pytest.mark.parametrize("seed", range(20))
def test_every_active_subscription_is_in_exactly_one_shard_by_id(seed):
    rng = random.Random(seed)
    subs = tuple(
        SubscriptionRow(i, 1, 1, "free", plan_id=rng.choice([1, 404]))
        for i in rng.sample(range(1, 10_000), 200)
    )
    shards = rate_limit_shards(dataclasses.replace(demo_rows(), subscriptions=subs))

    assert [(s.name, s.index, s.shard_count) for s in shards] == [
        (f"rate-limits/{i}", i, RATE_LIMIT_SHARDS) for i in range(RATE_LIMIT_SHARDS)
    ]
    placed = [(s.index, limits.subscription_id) for s in shards for limits in s.subscriptions]
    assert sorted(sub_id for _, sub_id in placed) == sorted(s.id for s in subs)
    assert all(index == sub_id % RATE_LIMIT_SHARDS for index, sub_id in placed)
    for shard in shards:
        ids = [limits.subscription_id for limits in shard.subscriptions]
        assert ids == sorted(ids)


def test_a_subscription_with_no_limits_is_present_and_empty_meaning_unlimited():
    plan = PlanRow(1, "free", "Free", 1)
    limits = _limits(_compiled(_with_limits(plan, SubscriptionRow(3, 1, 1, "free", plan_id=1))))
    assert set(limits) == {3}
    assert list(limits[3].windows) == []
    assert not limits[3].HasField("quota")


def test_the_filters_run_ext_authz_then_fail_open_then_fail_closed_then_router():
    names = [f.name for f in _manager(_compiled(demo_rows())).http_filters]
    assert names == [
        EXT_AUTHZ_FILTER,
        "tollgate.ratelimit.fail_open",
        "tollgate.ratelimit.fail_closed",
        "envoy.filters.http.router",
    ]


def test_both_rate_limit_filters_call_the_sidecar_and_only_fail_closed_denies():
    configs = _rate_limit_configs(_compiled(demo_rows()))
    fail_open = configs["tollgate.ratelimit.fail_open"]
    fail_closed = configs["tollgate.ratelimit.fail_closed"]

    assert (fail_open.stage, fail_open.failure_mode_deny) == (0, False)
    assert (fail_closed.stage, fail_closed.failure_mode_deny) == (1, True)
    assert not fail_open.HasField("status_on_error")
    assert fail_closed.status_on_error.code == 503
    for config in configs.values():
        assert config.domain == descriptors.DOMAIN == "tollgate"
        assert config.timeout.ToMilliseconds() == 100
        assert config.rate_limit_service.grpc_service.envoy_grpc.cluster_name == (
            "tollgate_ratelimit"
        )
        assert config.rate_limit_service.transport_api_version == 2  # V3
        assert config.enable_x_ratelimit_headers == rate_limit_pb2.RateLimit.OFF
        assert config.disable_x_envoy_ratelimited_header


def test_the_gateway_settings_reach_the_rate_limit_filters():
    gateway = dataclasses.replace(
        GATEWAY,
        ratelimit_cluster="rls",
        ratelimit_timeout_ms=1500,
        ratelimit_fail_closed_status=500,
        ratelimit_draft03_headers=True,
    )
    configs = _rate_limit_configs(_compiled(demo_rows(), gateway))
    assert configs["tollgate.ratelimit.fail_closed"].status_on_error.code == 500
    for config in configs.values():
        assert config.timeout.ToMilliseconds() == 1500
        assert config.rate_limit_service.grpc_service.envoy_grpc.cluster_name == "rls"
        assert config.enable_x_ratelimit_headers == rate_limit_pb2.RateLimit.DRAFT_VERSION_03


def _mappers(gateway=GATEWAY) -> list[hcm_pb2.ResponseMapper]:  # type: ignore[no-untyped-def]
    return list(_manager(_compiled(demo_rows(), gateway)).local_reply_config.mappers)


def _flags_and_status(mapper: hcm_pb2.ResponseMapper) -> tuple[set[str], int]:
    flag_filter, status_filter = mapper.filter.and_filter.filters
    return (
        set(flag_filter.response_flag_filter.flags),
        status_filter.status_code_filter.comparison.value.default_value,
    )


@pytest.mark.parametrize("status", [503, 500])
def test_a_fail_closed_error_reply_gets_the_rate_limit_problem_at_the_configured_status(status):
    gateway = dataclasses.replace(GATEWAY, ratelimit_fail_closed_status=status)
    (mapper,) = [m for m in _mappers(gateway) if "RLSE" in _flags_and_status(m)[0]]

    assert _flags_and_status(mapper) == ({"RLSE"}, status)
    assert mapper.status_code.value == status
    assert mapper.body_format_override.content_type == "application/problem+json"
    body = json.loads(mapper.body_format_override.text_format_source.inline_string)
    assert body == {
        "type": RATE_LIMIT_UNAVAILABLE.type,
        "title": "Rate limiting unavailable",
        "status": status,
        "detail": RATE_LIMIT_UNAVAILABLE.detail,
    }


def test_no_local_reply_mapper_touches_a_429_which_carries_the_sidecars_own_body():
    for mapper in _mappers():
        flags, status = _flags_and_status(mapper)
        assert status != 429
        assert mapper.status_code.value != 429
        assert "RL" not in flags


def test_a_route_has_one_rate_limit_entry_built_from_what_ext_authz_learnt():
    (entry,) = _route(demo_rows()).route.rate_limits

    assert entry.stage.value == 0
    assert not entry.HasField("hits_addend")
    assert len(entry.actions) == 3  # no cost entry: one call counts once
    subscription, application, route = entry.actions
    for action, key, field in (
        (subscription, "subscription", "subscription_id"),
        (application, "application", "application_id"),
    ):
        assert action.metadata.descriptor_key == key
        assert action.metadata.source == rc_pb2.RateLimit.Action.MetaData.DYNAMIC
        assert action.metadata.metadata_key.key == EXT_AUTHZ_FILTER
        assert [p.key for p in action.metadata.metadata_key.path] == [field]
    assert (route.generic_key.descriptor_key, route.generic_key.descriptor_value) == ("route", "1")


def test_a_fail_closed_expensive_route_is_counted_at_stage_1_with_its_cost():
    rows = demo_rows()
    rows = dataclasses.replace(
        rows,
        routes=(dataclasses.replace(rows.routes[0], cost=25, rate_limit_failure="closed"),),
    )
    (entry,) = _route(rows).route.rate_limits
    assert entry.stage.value == 1
    cost = entry.actions[-1].generic_key
    assert (cost.descriptor_key, cost.descriptor_value) == ("cost", "25")


def test_the_descriptor_vocabulary_is_the_one_ext_authz_writes_under():
    assert descriptors.METADATA_NAMESPACE == EXT_AUTHZ_FILTER
    assert (descriptors.SUBSCRIPTION_KEY, descriptors.APPLICATION_KEY, descriptors.ROUTE_KEY) == (
        "subscription",
        "application",
        "route",
    )


def test_a_limit_change_changes_only_the_rate_limit_version():
    rows = _with_limits(FREE, SubscriptionRow(1, 1, 1, "free", plan_id=1))
    before = _compiled(rows)
    raised = dataclasses.replace(FREE, windows=(window(20, 1, "second"), *FREE.windows[1:]))
    after = _compiled(dataclasses.replace(rows, plans=(raised,)))
    changed = {s.type_url for s in before.sets if s.version != _set(after, s.type_url).version}
    assert changed == {type_urls.RATE_LIMIT_SHARD}


def test_a_cost_change_changes_only_the_route_version():
    rows = demo_rows()
    before = _compiled(rows)
    after = _compiled(
        dataclasses.replace(rows, routes=(dataclasses.replace(rows.routes[0], cost=3),))
    )
    changed = {s.type_url for s in before.sets if s.version != _set(after, s.type_url).version}
    assert changed == {type_urls.ROUTE}


@pytest.mark.parametrize("seed", range(30))
def test_window_and_subscription_order_does_not_change_the_version(seed):
    rows = random_rows(random.Random(seed))
    shuffled = dataclasses.replace(
        rows,
        plans=tuple(dataclasses.replace(p, windows=p.windows[::-1]) for p in rows.plans),
        subscriptions=tuple(
            dataclasses.replace(s, windows=s.windows[::-1]) for s in reversed(rows.subscriptions)
        ),
    )
    assert _compiled(rows).version == _compiled(shuffled).version


def _refusals(rows, gateway=GATEWAY) -> str:  # type: ignore[no-untyped-def]
    compiled = compile_snapshot(rows, gateway)
    assert compiled.snapshot is None
    return "\n".join(compiled.errors)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cost": 0}, "route '/' of Demo API v1 costs 0 calls; a call costs 1 to 10,000"),
        ({"cost": 10_001}, "costs 10001 calls"),
        ({"rate_limit_failure": "maybe"}, "unknown rate-limit failure mode 'maybe'"),
    ],
)
def test_a_route_with_a_bad_cost_or_failure_mode_is_refused(change, message):
    rows = demo_rows()
    route = RouteRow(**{**dataclasses.asdict(rows.routes[0]), **change})
    assert message in _refusals(dataclasses.replace(rows, routes=(route,)))


@pytest.mark.parametrize(
    ("plan_change", "message"),
    [
        (
            {"windows": (window(0, 1, "minute"),)},
            "plan 'Free': the limit of 0 per 1 minute is refused: requests must be between 1",
        ),
        (
            {"windows": (window(5, 400, "day"),)},
            "the limit of 5 per 400 days is refused: a window must last between 1 and",
        ),
        (
            {"windows": (window(5, 1, "minute"), window(9, 60, "second"))},
            "plan 'Free' has 2 limits per 1 minute; a window length takes one limit",
        ),
        ({"windows": (window(5, algorithm="leaky"),)}, "unknown algorithm 'leaky'"),
        ({"quota_requests": -1}, "plan 'Free': a quota of -1 requests is outside"),
        ({"quota_period_months": 3}, "a quota period of 3 months is neither"),
    ],
)
def test_a_plan_with_bad_limits_is_refused_naming_the_plan(plan_change, message):
    rows = demo_rows()
    plan = dataclasses.replace(rows.plans[0], **plan_change)
    assert message in _refusals(dataclasses.replace(rows, plans=(plan,)))


def test_a_bad_override_is_refused_naming_the_subscription():
    rows = demo_rows()
    sub = dataclasses.replace(rows.subscriptions[0], windows=(window(0, 1, "hour"),))
    assert "subscription 1 (plan 'free'): the limit of 0 per 1 hour" in _refusals(
        dataclasses.replace(rows, subscriptions=(sub,))
    )


@pytest.mark.parametrize("status", [429, 200, 509])
def test_a_fail_closed_status_that_is_not_an_envoy_5xx_is_refused(status):
    gateway = dataclasses.replace(GATEWAY, ratelimit_fail_closed_status=status)
    assert f"TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS {status}" in _refusals(demo_rows(), gateway)

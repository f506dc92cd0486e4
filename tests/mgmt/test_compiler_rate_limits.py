"""Rate limits in the compiled snapshot: per-subscription shards, and the one ext_authz
decision that counts them (no rate-limit filter; each route hands over its cost and failure
mode, as context extensions over gRPC and as the route header over HTTP)."""

import dataclasses
import json
import random

import pytest
from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import base_pb2, config_source_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.type.matcher.v3 import string_pb2

from extauthz.caller_ids import CALLER_HEADERS
from extauthz.route_context import RouteContext, from_header
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import GatewaySettings, PlanRow, RouteRow, SubscriptionRow
from mgmt.compiler.listener import EXT_AUTHZ_FILTER, ROUTE_HEADER_FILTER, STRIP_ROUTE_HEADER_FILTER
from mgmt.compiler.rate_limits import failure_mode, route_limits_context
from mgmt.compiler.sidecar_resources import RATE_LIMIT_SHARDS, rate_limit_shards
from protos.tollgate.v1 import resources_pb2
from ratelimit_svc.problems import RATE_LIMIT_UNAVAILABLE
from tests.mgmt.compiler_rows import demo_rows, random_rows, window
from tests.mgmt.route_identity import route_identity
from xds_server import type_urls
from xds_server.snapshot import Snapshot

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


def _filters(snapshot) -> dict[str, hcm_pb2.HttpFilter]:  # type: ignore[no-untyped-def]
    return {f.name: f for f in _manager(snapshot).http_filters}


def _ext_authz(gateway=GATEWAY) -> ext_authz_pb2.ExtAuthz:  # type: ignore[no-untyped-def]
    config = _filters(_compiled(demo_rows(), gateway))[EXT_AUTHZ_FILTER].typed_config
    return _unpack(config, ext_authz_pb2.ExtAuthz)


def _exact_names(matcher: string_pb2.ListStringMatcher) -> list[str]:
    """The header names a list matcher lets through; each must be an exact, case-kept match."""
    assert all(p.WhichOneof("match_pattern") == "exact" for p in matcher.patterns)
    assert not any(p.ignore_case for p in matcher.patterns)
    return [p.exact for p in matcher.patterns]


def _upstream_routes(snapshot) -> list[rc_pb2.Route]:  # type: ignore[no-untyped-def]
    config = _unpack(
        _set(snapshot, type_urls.ROUTE).resources[0].body, route_pb2.RouteConfiguration
    )
    return [r for vh in config.virtual_hosts for r in vh.routes if r.HasField("route")]


def _route_header(route: rc_pb2.Route) -> mutation_rules_pb2.HeaderMutation:
    per_route = _unpack(
        route.typed_per_filter_config[ROUTE_HEADER_FILTER],
        header_mutation_pb2.HeaderMutationPerRoute,
    )
    (mutation,) = per_route.mutations.request_mutations
    assert not per_route.mutations.response_mutations
    return mutation


def _with_route(**change):  # type: ignore[no-untyped-def]
    rows = demo_rows()
    return dataclasses.replace(rows, routes=(dataclasses.replace(rows.routes[0], **change),))


@pytest.mark.parametrize(
    ("transport", "chain"),
    [
        (
            "http",
            [
                "tollgate.route_identity.strip",
                "tollgate.route_identity",
                "envoy.filters.http.ext_authz",
                "envoy.filters.http.router",
            ],
        ),
        # Over gRPC the identity is each route's context extensions: no route header to set,
        # but the caller headers only the gateway may set are still stripped.
        (
            "grpc",
            [
                "tollgate.route_identity.strip",
                "envoy.filters.http.ext_authz",
                "envoy.filters.http.router",
            ],
        ),
    ],
)
def test_the_listener_runs_route_identity_if_http_then_ext_authz_then_router_and_no_rate_limit(
    transport, chain
):
    gateway = dataclasses.replace(GATEWAY, authz_transport=transport)
    filters = _manager(_compiled(demo_rows(), gateway)).http_filters

    assert [f.name for f in filters] == chain
    # Nothing left of Envoy's rate-limit filters, under any name: ext_authz does the counting.
    assert not [f for f in filters if "ratelimit" in f.typed_config.type_url.lower()]
    assert not [f for f in filters if "ratelimit" in f.name]


@pytest.mark.parametrize("seed", range(10))
def test_no_compiled_route_carries_rate_limit_actions_for_envoy(seed):
    snapshot = _compiled(random_rows(random.Random(seed)))
    config = _unpack(
        _set(snapshot, type_urls.ROUTE).resources[0].body, route_pb2.RouteConfiguration
    )
    for host in config.virtual_hosts:
        assert list(host.rate_limits) == []
        for route in host.routes:
            assert list(route.route.rate_limits) == []


def test_the_strip_filter_removes_the_clients_route_header_and_the_set_filter_only_acts_per_route():
    filters = _filters(_compiled(demo_rows()))
    strip = _unpack(
        filters[STRIP_ROUTE_HEADER_FILTER].typed_config, header_mutation_pb2.HeaderMutation
    )
    set_filter = _unpack(
        filters[ROUTE_HEADER_FILTER].typed_config, header_mutation_pb2.HeaderMutation
    )

    *removals, fingerprint = strip.mutations.request_mutations
    assert [(r.WhichOneof("action"), r.remove) for r in removals] == [
        ("remove", name) for name in ("x-tollgate-route", *CALLER_HEADERS)
    ]
    # Removed first, then set from the connection: a client never writes its own fingerprint.
    assert fingerprint.append.header.key == "x-tollgate-client-cert"
    assert fingerprint.append.header.value == "%DOWNSTREAM_PEER_FINGERPRINT_256%"
    assert not strip.mutations.response_mutations
    # Listener-wide the set filter does nothing: a route without its own config (a retired
    # one, or no route at all) sends no route header.
    assert set_filter == header_mutation_pb2.HeaderMutation()


def test_ext_authz_defaults_to_envoys_http_mode_on_the_http_sidecar_cluster():
    gateway = dataclasses.replace(GATEWAY, extauthz_timeout_ms=40)
    config = _ext_authz(gateway)

    assert config.WhichOneof("services") == "http_service"
    assert config.http_service.server_uri.cluster == "tollgate_extauthz_http"
    assert config.http_service.server_uri.timeout.ToMilliseconds() == 40
    assert config.http_service.path_prefix == "/check"
    assert config.transport_api_version == config_source_pb2.ApiVersion.V3
    # ext_authz down or broken: the request is refused, never let through unchecked.
    assert not config.failure_mode_allow
    assert config.status_on_error.code == 503
    assert _exact_names(config.allowed_headers) == [
        "x-api-key",
        "authorization",
        *CALLER_HEADERS,
        "x-tollgate-route",
    ]


def test_http_mode_sends_the_callers_identity_upstream_and_the_ratelimit_headers_to_the_client():
    answer = _ext_authz().http_service.authorization_response

    assert _exact_names(answer.allowed_upstream_headers) == [
        "x-consumer-id",
        "x-application-id",
        "x-plan",
    ]
    assert _exact_names(answer.allowed_client_headers_on_success) == [
        "ratelimit-policy",
        "ratelimit",
    ]
    assert _exact_names(answer.dynamic_metadata_from_headers) == [
        "x-tollgate-application-id",
        "x-tollgate-subscription-id",
        "x-tollgate-api-id",
        "x-tollgate-plan",
        "x-tollgate-key-id",
    ]
    # A refusal is the sidecar's whole answer: problem type, Retry-After and RateLimit figures.
    refused = _exact_names(answer.allowed_client_headers)
    assert {"content-type", "www-authenticate", "retry-after", "ratelimit"} <= set(refused)
    assert "x-consumer-id" not in refused


def test_http_mode_adds_the_draft03_headers_only_when_the_setting_asks_for_them():
    gateway = dataclasses.replace(GATEWAY, ratelimit_draft03_headers=True)
    answer = _ext_authz(gateway).http_service.authorization_response

    assert _exact_names(answer.allowed_client_headers_on_success) == [
        "ratelimit-policy",
        "ratelimit",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    default = _ext_authz().http_service.authorization_response
    assert not [
        name
        for name in _exact_names(default.allowed_client_headers_on_success)
        if name.startswith("x-")
    ]


def test_grpc_mode_calls_the_grpc_sidecar_with_only_the_credential_headers():
    gateway = dataclasses.replace(
        GATEWAY, authz_transport="grpc", extauthz_cluster="authz", extauthz_timeout_ms=120
    )
    config = _ext_authz(gateway)

    assert config.WhichOneof("services") == "grpc_service"
    assert config.grpc_service.envoy_grpc.cluster_name == "authz"
    assert config.grpc_service.timeout.ToMilliseconds() == 120
    assert config.transport_api_version == config_source_pb2.ApiVersion.V3
    assert not config.failure_mode_allow
    assert config.status_on_error.code == 503
    # The route's identity arrives as context extensions: the header is not forwarded.
    assert _exact_names(config.allowed_headers) == ["x-api-key", "authorization", *CALLER_HEADERS]


@pytest.mark.parametrize(("failure", "expected"), [("open", "open"), ("closed", "closed")])
def test_each_route_hands_ext_authz_its_cost_and_failure_mode(failure, expected):
    (route,) = _upstream_routes(_compiled(_with_route(cost=25, rate_limit_failure=failure)))
    context = route_identity(route)
    assert (context["cost"], context["failure"]) == ("25", expected)


@pytest.mark.parametrize("written", ["closed", "", "Open", "OPEN", "maybe", "open "])
def test_a_route_is_fail_closed_unless_it_says_exactly_open(written):
    route = dataclasses.replace(demo_rows().routes[0], rate_limit_failure=written)
    assert failure_mode(route) == "closed"
    assert route_limits_context(route, GATEWAY)["failure"] == "closed"
    assert failure_mode(dataclasses.replace(route, rate_limit_failure="open")) == "open"


def test_the_fail_closed_status_reaches_the_route_context_only_when_it_is_not_503():
    (default,) = _upstream_routes(_compiled(demo_rows()))
    gateway = dataclasses.replace(GATEWAY, ratelimit_fail_closed_status=500)
    (custom,) = _upstream_routes(_compiled(demo_rows(), gateway))

    assert "closed_status" not in route_identity(default)
    assert route_identity(custom)["closed_status"] == "500"


RouteKey = tuple[int, str, str]  # seed, virtual host, route name


def _keyed_upstream_routes(snapshot, seed: int) -> dict[RouteKey, rc_pb2.Route]:  # type: ignore[no-untyped-def]
    config = _unpack(
        _set(snapshot, type_urls.ROUTE).resources[0].body, route_pb2.RouteConfiguration
    )
    keyed = {
        (seed, vh.name, r.name): r
        for vh in config.virtual_hosts
        for r in vh.routes
        if r.HasField("route")
    }
    assert len(keyed) == len(_upstream_routes(snapshot))
    return keyed


def _random_upstream_routes(seeds: range, transport: str = "http") -> dict[RouteKey, rc_pb2.Route]:
    """Upstream routes of random catalogs, each compiled with random fail-closed settings;
    the same seeds give the same rows and settings in either transport."""
    routes: dict[RouteKey, rc_pb2.Route] = {}
    for seed in seeds:
        rng = random.Random(seed)
        gateway = GatewaySettings(
            ratelimit_fail_closed_status=rng.choice([503, 500]),
            ratelimit_draft03_headers=rng.random() < 0.5,
            authz_transport=transport,
        )
        snapshot = _compiled(random_rows(rng), gateway)
        if transport == "grpc":
            filters = _manager(snapshot).http_filters
            # Only the strip filter: no route header is set in this mode.
            assert [f.name for f in filters if "header_mutation" in f.typed_config.type_url] == [
                STRIP_ROUTE_HEADER_FILTER
            ]
        routes.update(_keyed_upstream_routes(snapshot, seed))
    return routes


REQUIRED_KEYS = {"api", "version", "route", "lifecycle", "owner", "cost", "failure"}
OPTIONAL_KEYS = ("sunset", "retired_body", "closed_status", "headers")


def test_in_http_mode_every_route_sets_only_the_route_header_as_compact_sorted_json():
    routes = _random_upstream_routes(range(30))
    assert len(routes) > 50
    contexts = []
    for route in routes.values():
        # No context extensions: Envoy would copy them into every Check, unused.
        assert set(route.typed_per_filter_config) == {ROUTE_HEADER_FILTER}
        mutation = _route_header(route)
        header = mutation.append.header

        assert mutation.WhichOneof("action") == "append"
        # Overwrite: a second copy (had one slipped past the strip filter) is replaced.
        assert (
            mutation.append.append_action == base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
        )
        assert header.key == "x-tollgate-route"
        context = json.loads(header.value)
        assert header.value == json.dumps(context, separators=(",", ":"), sort_keys=True)
        assert set(context) >= REQUIRED_KEYS
        # The sidecar reads the header as it would read the same map as context extensions.
        read = from_header(header.value)
        assert read is not None
        assert read == RouteContext.of(context)
        contexts.append(context)
    # The sample covers every optional part of a context, sunset body (quotes and all) too.
    for key in OPTIONAL_KEYS:
        assert any(key in context for context in contexts), key


def test_in_grpc_mode_every_route_hands_over_only_its_context_extensions():
    routes = _random_upstream_routes(range(30), "grpc")
    assert len(routes) > 50
    for route in routes.values():
        assert set(route.typed_per_filter_config) == {EXT_AUTHZ_FILTER}
        per_route = _unpack(
            route.typed_per_filter_config[EXT_AUTHZ_FILTER], ext_authz_pb2.ExtAuthzPerRoute
        )
        assert not per_route.disabled
        context = dict(per_route.check_settings.context_extensions)
        assert set(context) >= REQUIRED_KEYS
        assert RouteContext.of(context) is not None


def test_the_http_route_header_carries_exactly_the_grpc_context_extensions():
    http = _random_upstream_routes(range(30), "http")
    grpc = _random_upstream_routes(range(30), "grpc")
    assert len(http) > 50
    assert set(http) == set(grpc)
    for key, route in http.items():
        from_grpc = route_identity(grpc[key])
        assert route_identity(route) == from_grpc, key
        assert from_header(_route_header(route).append.header.value) == RouteContext.of(from_grpc)


def test_the_draft03_setting_reaches_the_route_context_only_when_it_is_on():
    (default,) = _upstream_routes(_compiled(demo_rows()))
    gateway = dataclasses.replace(GATEWAY, ratelimit_draft03_headers=True)
    (draft03,) = _upstream_routes(_compiled(demo_rows(), gateway))

    assert "headers" not in route_identity(default)
    assert route_identity(draft03)["headers"] == "draft03"


def test_the_compiled_route_identity_reads_back_as_the_sidecars_route_context():
    gateway = dataclasses.replace(
        GATEWAY, ratelimit_fail_closed_status=500, ratelimit_draft03_headers=True
    )
    rows = _with_route(cost=25, rate_limit_failure="closed")
    (route,) = _upstream_routes(_compiled(rows, gateway))
    (grpc_route,) = _upstream_routes(
        _compiled(rows, dataclasses.replace(gateway, authz_transport="grpc"))
    )

    context = from_header(_route_header(route).append.header.value)
    assert context is not None
    assert (context.api, context.version, context.route) == ("1", "1", "1")
    assert (context.lifecycle, context.owner) == ("published", "1")
    assert (context.cost, context.fail_closed) == (25, True)
    assert (context.closed_status, context.draft03) == (500, True)
    # Over gRPC the sidecar reads the same context from the route's context extensions.
    assert RouteContext.of(route_identity(grpc_route)) == context


def test_a_route_with_default_settings_reads_back_fail_open_costing_1_at_503_without_draft03():
    (route,) = _upstream_routes(_compiled(demo_rows()))
    context = from_header(_route_header(route).append.header.value)
    assert context is not None
    assert (context.cost, context.fail_closed, context.closed_status, context.draft03) == (
        1,
        False,
        503,
        False,
    )


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_the_route_header_is_removed_before_the_request_goes_upstream(transport):
    routes = _random_upstream_routes(range(30), transport)
    assert len(routes) > 50
    for route in routes.values():
        # With every caller header: what the gateway established stays between it and
        # its sidecar (the identity headers upstream say who called).
        assert list(route.request_headers_to_remove) == ["x-tollgate-route", *CALLER_HEADERS]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_retired_routes_keep_ext_authz_disabled_and_set_no_route_header(transport):
    rows = demo_rows()
    retired = dataclasses.replace(rows.versions[0], lifecycle="retired", path_prefix="/v1")
    gateway = dataclasses.replace(GATEWAY, authz_transport=transport)
    snapshot = _compiled(dataclasses.replace(rows, versions=(retired,)), gateway)
    config = _unpack(
        _set(snapshot, type_urls.ROUTE).resources[0].body, route_pb2.RouteConfiguration
    )
    routes = [r for vh in config.virtual_hosts for r in vh.routes]

    assert {r.name for r in routes} == {"route.1", "version.1.retired"}
    for route in routes:
        assert route.direct_response.status == 410
        per_route = _unpack(
            route.typed_per_filter_config[EXT_AUTHZ_FILTER], ext_authz_pb2.ExtAuthzPerRoute
        )
        assert per_route.disabled
        assert set(route.typed_per_filter_config) == {EXT_AUTHZ_FILTER}


@pytest.mark.parametrize("seed", range(10))
def test_http_and_grpc_snapshots_both_pass_the_consistency_checks_and_differ_only_in_identity(
    seed,
):
    rows = random_rows(random.Random(seed))
    by_transport = {}
    for transport in ("http", "grpc"):
        compiled = compile_snapshot(rows, dataclasses.replace(GATEWAY, authz_transport=transport))
        assert compiled.errors == ()
        assert compiled.snapshot is not None
        assert Snapshot.from_proto(compiled.snapshot).consistency_errors() == []
        by_transport[transport] = compiled.snapshot

    http, grpc = by_transport["http"], by_transport["grpc"]
    changed = {s.type_url for s in http.sets if s.version != _set(grpc, s.type_url).version}
    # The routes differ only when some route hands ext_authz an identity (a retired one doesn't).
    expected = (
        {type_urls.LISTENER, type_urls.ROUTE} if _upstream_routes(http) else {type_urls.LISTENER}
    )
    assert changed == expected
    # ...and only in that identity's per-route config.
    configs = []
    for snapshot in (http, grpc):
        config = _unpack(
            _set(snapshot, type_urls.ROUTE).resources[0].body, route_pb2.RouteConfiguration
        )
        for route in (r for vh in config.virtual_hosts for r in vh.routes if r.HasField("route")):
            route.ClearField("typed_per_filter_config")
        configs.append(config)
    assert configs[0] == configs[1]


def _mappers(gateway=GATEWAY) -> list[hcm_pb2.ResponseMapper]:  # type: ignore[no-untyped-def]
    return list(_manager(_compiled(demo_rows(), gateway)).local_reply_config.mappers)


def _parts(mapper: hcm_pb2.ResponseMapper) -> dict[str, accesslog_pb2.AccessLogFilter]:
    parts = {f.WhichOneof("filter_specifier"): f for f in mapper.filter.and_filter.filters}
    assert len(parts) == len(mapper.filter.and_filter.filters)
    return parts


def _flags_and_status(mapper: hcm_pb2.ResponseMapper) -> tuple[set[str], int]:
    parts = _parts(mapper)
    flags = parts.get("response_flag_filter")
    return (
        set(flags.response_flag_filter.flags) if flags is not None else set(),
        parts["status_code_filter"].status_code_filter.comparison.value.default_value,
    )


def _code_details(mapper: hcm_pb2.ResponseMapper) -> str:
    """The CEL expression a mapper also requires, "" for none."""
    extension = _parts(mapper).get("extension_filter")
    if extension is None:
        return ""
    return _unpack(extension.extension_filter.typed_config, cel_pb2.ExpressionFilter).expression


def _counters_down_mapper(gateway=GATEWAY) -> hcm_pb2.ResponseMapper:  # type: ignore[no-untyped-def]
    (mapper,) = [m for m in _mappers(gateway) if _flags_and_status(m) == ({"UAEX"}, 424)]
    return mapper


def test_no_local_reply_mapper_touches_a_429_which_carries_the_sidecars_own_body():
    mappers = _mappers()
    assert mappers
    for mapper in mappers:
        flags, status = _flags_and_status(mapper)
        assert status != 429
        assert mapper.status_code.value != 429
        assert "RL" not in flags


def test_only_envoys_own_ext_authz_failure_is_answered_as_the_sidecar_being_unavailable():
    (mapper,) = [m for m in _mappers() if _flags_and_status(m) == ({"UAEX"}, 503)]

    # The sidecar's own 503s (a fail-closed route over gRPC) are UAEX too and keep their body.
    assert _code_details(mapper) == "response.code_details == 'ext_authz_error'"
    assert mapper.status_code.value == 503
    body = json.loads(mapper.body_format_override.text_format_source.inline_string)
    assert body["type"] == "https://tollgate.dev/problems/authorization-unavailable"


def test_envoy_failing_to_reach_the_sidecar_says_so_and_not_that_data_is_missing():
    (mapper,) = [m for m in _mappers() if _flags_and_status(m) == ({"UAEX"}, 503)]
    body = json.loads(mapper.body_format_override.text_format_source.inline_string)
    assert "could not reach its authorization service" in body["detail"]
    assert "no credentials" not in body["detail"]


@pytest.mark.parametrize(
    ("status", "slug"),
    [
        (400, "bad-request"),
        (408, "request-timeout"),
        (413, "payload-too-large"),
        (431, "request-header-fields-too-large"),
    ],
)
def test_envoys_own_refusals_of_a_malformed_request_are_problems_but_never_the_sidecars(
    status, slug
):
    (mapper,) = [m for m in _mappers() if _flags_and_status(m) == (set(), status)]
    # The sidecar's denials are local replies too, with a body of their own: left alone.
    assert _code_details(mapper) == "response.code_details != 'ext_authz_denied'"
    assert mapper.status_code.value == status
    assert mapper.body_format_override.content_type == "application/problem+json"
    body = json.loads(mapper.body_format_override.text_format_source.inline_string)
    assert (body["type"], body["status"]) == (f"https://tollgate.dev/problems/{slug}", status)


@pytest.mark.parametrize("status", [503, 500])
def test_counters_down_over_http_is_answered_at_the_configured_status_with_the_rate_limit_problem(
    status,
):
    gateway = dataclasses.replace(GATEWAY, ratelimit_fail_closed_status=status)
    mapper = _counters_down_mapper(gateway)

    # The sidecar says "counters down" with 424: Envoy would take any 5xx for its own failure.
    assert _code_details(mapper) == ""
    assert mapper.status_code.value == status
    assert mapper.body_format_override.content_type == "application/problem+json"
    body = json.loads(mapper.body_format_override.text_format_source.inline_string)
    assert (body["type"], body["title"], body["detail"]) == (
        RATE_LIMIT_UNAVAILABLE.type,
        "Rate limiting unavailable",
        RATE_LIMIT_UNAVAILABLE.detail,
    )


def test_the_counters_down_problem_body_states_the_status_it_is_answered_with():
    gateway = dataclasses.replace(GATEWAY, ratelimit_fail_closed_status=500)
    mapper = _counters_down_mapper(gateway)
    body = json.loads(mapper.body_format_override.text_format_source.inline_string)
    assert body["status"] == mapper.status_code.value == 500


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


@pytest.mark.parametrize("transport", ["websocket", "HTTP", ""])
def test_an_authz_transport_other_than_http_or_grpc_is_refused(transport):
    gateway = dataclasses.replace(GATEWAY, authz_transport=transport)
    assert f"TOLLGATE_AUTHZ_TRANSPORT {transport!r} is not http or grpc" in _refusals(
        demo_rows(), gateway
    )

"""The snapshot compiler, with no network and no database."""

import dataclasses
import random

import pytest
import re2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2

from extauthz.caller_ids import CALLER_HEADERS
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import ApiRow, ApiVersionRow, GatewaySettings, RouteRow, UpstreamRow
from mgmt.compiler.re2_check import strip_anchors
from mgmt.compiler.routes import route_match
from protos.tollgate.v1 import resources_pb2
from tests.mgmt.compiler_rows import demo_rows, random_rows
from tests.mgmt.route_identity import route_identity
from xds_server import type_urls
from xds_server.snapshot import Snapshot

pytestmark = pytest.mark.pure
GATEWAY = GatewaySettings(listen_port=10000)


def _set(message, type_url):  # type: ignore[no-untyped-def]
    return next(s for s in message.sets if s.type_url == type_url)


def _unpack(resource, cls):  # type: ignore[no-untyped-def]
    out = cls()
    assert resource.body.Unpack(out)
    return out


def test_equal_rows_give_equal_versions():
    rows = demo_rows()
    first = compile_snapshot(rows, GATEWAY, compiled_at=1)
    second = compile_snapshot(rows, GATEWAY, compiled_at=2)
    assert first.snapshot is not None and second.snapshot is not None
    assert first.snapshot.version == second.snapshot.version


def test_row_order_does_not_change_the_version():
    rows = random_rows(random.Random(7))
    shuffled = dataclasses.replace(
        rows, routes=tuple(reversed(rows.routes)), credentials=tuple(reversed(rows.credentials))
    )
    assert (
        compile_snapshot(rows, GATEWAY).snapshot.version
        == compile_snapshot(shuffled, GATEWAY).snapshot.version
    )


def test_a_key_change_changes_only_the_credentials_version():
    rows = demo_rows()
    before = compile_snapshot(rows, GATEWAY).snapshot
    revoked = dataclasses.replace(
        rows, credentials=(dataclasses.replace(rows.credentials[0], revoked_at=1_700_000_000),)
    )
    after = compile_snapshot(revoked, GATEWAY).snapshot
    assert before.version != after.version
    changed = {s.type_url for s in before.sets if s.version != _set(after, s.type_url).version}
    assert changed == {type_urls.CREDENTIAL_SHARD}


def test_route_to_a_missing_upstream_is_refused_with_a_readable_error():
    rows = dataclasses.replace(demo_rows(), routes=(RouteRow(1, 1, upstream_id=99, path="/x"),))
    compiled = compile_snapshot(rows, GATEWAY)
    assert compiled.snapshot is None
    assert any(
        "route '/x' of Demo API v1 points at an upstream that does not exist" in e
        for e in compiled.errors
    )


def test_two_apis_on_the_same_host_and_base_path_are_refused():
    rows = demo_rows()
    clash = dataclasses.replace(rows.apis[0], id=2, slug="other", name="Other")
    compiled = compile_snapshot(dataclasses.replace(rows, apis=(*rows.apis, clash)), GATEWAY)
    assert compiled.snapshot is None
    assert any("both serve '/demo'" in e for e in compiled.errors)


def test_ip_endpoints_use_eds_and_dns_names_resolve_in_the_cluster():
    ip = compile_snapshot(demo_rows("127.0.0.1"), GATEWAY).snapshot
    dns = compile_snapshot(demo_rows("demo.internal"), GATEWAY).snapshot
    ip_cluster = _unpack(_set(ip, type_urls.CLUSTER).resources[0], cluster_pb2.Cluster)
    dns_cluster = _unpack(_set(dns, type_urls.CLUSTER).resources[0], cluster_pb2.Cluster)
    assert ip_cluster.type == cluster_pb2.Cluster.EDS
    assert [r.name for r in _set(ip, type_urls.ENDPOINT).resources] == ["upstream.demo"]
    assert dns_cluster.type == cluster_pb2.Cluster.STRICT_DNS
    assert (
        dns_cluster.load_assignment.endpoints[0]
        .lb_endpoints[0]
        .endpoint.address.socket_address.address
        == "demo.internal"
    )
    assert len(_set(dns, type_urls.ENDPOINT).resources) == 0


DEMO_IDENTITY = {
    "api": "1",
    "version": "1",
    "route": "1",
    "lifecycle": "published",
    "owner": "1",
    "cost": "1",
    "failure": "open",
}


def _demo_route(gateway: GatewaySettings = GATEWAY) -> rc_pb2.Route:
    snap = compile_snapshot(demo_rows(), gateway).snapshot
    config = _unpack(_set(snap, type_urls.ROUTE).resources[0], route_pb2.RouteConfiguration)
    (route,) = config.virtual_hosts[0].routes
    return route


def test_routes_carry_their_identity_to_ext_authz_in_the_route_header_by_default():
    route = _demo_route()
    assert route.match.path_separated_prefix == "/demo"
    # HTTP mode: the route header only, no context extensions Envoy would copy into each Check.
    assert set(route.typed_per_filter_config) == {"tollgate.route_identity"}
    header = header_mutation_pb2.HeaderMutationPerRoute()
    assert route.typed_per_filter_config["tollgate.route_identity"].Unpack(header)
    (mutation,) = header.mutations.request_mutations
    assert mutation.append.header.key == "x-tollgate-route"
    assert mutation.append.header.value == (
        '{"api":"1","cost":"1","failure":"open","lifecycle":"published",'
        '"owner":"1","route":"1","version":"1"}'
    )
    assert route_identity(route) == DEMO_IDENTITY
    assert list(route.request_headers_to_remove) == ["x-tollgate-route", *CALLER_HEADERS]


def test_routes_carry_their_identity_to_ext_authz_as_context_extensions_over_grpc():
    route = _demo_route(dataclasses.replace(GATEWAY, authz_transport="grpc"))
    assert set(route.typed_per_filter_config) == {"envoy.filters.http.ext_authz"}
    per_route = ext_authz_pb2.ExtAuthzPerRoute()
    assert route.typed_per_filter_config["envoy.filters.http.ext_authz"].Unpack(per_route)
    assert not per_route.disabled
    assert dict(per_route.check_settings.context_extensions) == DEMO_IDENTITY
    # A client's copy of the header is never sent upstream.
    assert list(route.request_headers_to_remove) == ["x-tollgate-route", *CALLER_HEADERS]


def _routes_by_host(rows):  # type: ignore[no-untyped-def]
    snap = compile_snapshot(rows, GATEWAY).snapshot
    config = _unpack(_set(snap, type_urls.ROUTE).resources[0], route_pb2.RouteConfiguration)
    return {vh.domains[0]: [r.name for r in vh.routes] for vh in config.virtual_hosts}


def test_a_hosts_own_apis_match_before_hostless_ones_even_with_shorter_prefixes():
    rows = demo_rows()  # the demo API: no hostname, base path /demo, route 1
    shop = ApiRow(2, "shop", "Shop", organization_id=1, product_id=1, hostnames=("x.com",))
    rows = dataclasses.replace(
        rows,
        apis=(*rows.apis, shop),
        versions=(*rows.versions, ApiVersionRow(2, 2, "v1")),
        routes=(*rows.routes, RouteRow(2, 2, 1, path="/demo/cart")),
    )
    by_host = _routes_by_host(rows)
    assert by_host["x.com"] == ["route.2", "route.1"]
    assert by_host["*"] == ["route.1"]


def test_regex_alternation_stays_inside_its_api_prefix():
    api = dataclasses.replace(demo_rows().apis[0], base_path="/shop")
    version = ApiVersionRow(1, 1, "v1", path_prefix="/v1")
    route = RouteRow(1, 1, 1, match_type="regex", path="^/items|/orders$")
    regex = route_match(api, version, route).safe_regex.regex
    assert regex == r"/shop/v1(?:/items|/orders)"
    assert re2.fullmatch(regex, "/shop/v1/orders")
    assert not re2.fullmatch(regex, "/orders")


def test_escaped_dollar_is_kept_and_a_pattern_envoy_refuses_is_refused_here():
    assert strip_anchors(r"/price\$") == r"/price\$"
    assert strip_anchors(r"/price$") == "/price"
    rows = dataclasses.replace(
        demo_rows(), routes=(RouteRow(1, 1, 1, match_type="regex", path="/(?=admin).*"),)
    )
    compiled = compile_snapshot(rows, GATEWAY)
    assert compiled.snapshot is None
    assert any("RE2" in e and "(?=" in e for e in compiled.errors), compiled.errors


def test_active_subscriptions_become_grants_for_every_api_of_the_product():
    snap = compile_snapshot(demo_rows(), GATEWAY).snapshot
    shards = [
        _unpack(r, resources_pb2.ApplicationShard)
        for r in _set(snap, type_urls.APPLICATION_SHARD).resources
    ]
    app = next(a for s in shards for a in s.applications)
    assert (app.public_id, app.consumer_id) == ("app_1", "partner")
    assert [(g.api_id, g.plan) for g in app.grants] == [(1, "free")]


def test_upstream_with_no_endpoints_still_gets_an_empty_assignment():
    rows = dataclasses.replace(demo_rows(), upstreams=(UpstreamRow(1, "demo"),))
    snap = compile_snapshot(rows, GATEWAY).snapshot
    assert [r.name for r in _set(snap, type_urls.ENDPOINT).resources] == ["upstream.demo"]


@pytest.mark.parametrize("seed", range(300))
def test_random_catalogs_compile_to_consistent_snapshots(seed):
    compiled = compile_snapshot(random_rows(random.Random(seed)), GATEWAY)
    assert compiled.errors == ()
    assert Snapshot.from_proto(compiled.snapshot).consistency_errors() == []

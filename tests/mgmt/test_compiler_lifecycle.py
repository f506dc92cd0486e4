"""Version lifecycle and selection in the compiled routes: deprecation headers, 410 routes for
retired versions, version headers, and the rows the compiler refuses."""

import dataclasses
import json
import random
from typing import Any

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2

from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import ApiRow, ApiVersionRow, GatewaySettings, RouteRow, Rows
from mgmt.compiler.lifecycle import Successor, retired_problem, successor_of
from protos.tollgate.v1 import resources_pb2
from tests.mgmt.compiler_rows import demo_rows, random_rows
from tests.mgmt.route_identity import route_identity
from xds_server import type_urls

pytestmark = pytest.mark.pure
GATEWAY = GatewaySettings(listen_port=10000)
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
APPEND = base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
EXT_AUTHZ = "envoy.filters.http.ext_authz"
ROUTE_IDENTITY_FILTER = "tollgate.route_identity"

DEPRECATED_AT = 1_761_955_200  # 2025-11-01T00:00:00Z
SUNSET_AT = 1_793_491_200  # 2026-11-01T00:00:00Z
CHANGELOG = "https://docs.example.com/payments/changes"


def payments(
    v1: dict[str, Any] | None = None, api: dict[str, Any] | None = None, v2_prefix: str = "/v2"
) -> Rows:
    """Payments at /payments: v1 (routes 1 and 2) and v2 (route 3), one upstream."""
    rows = demo_rows()
    return dataclasses.replace(
        rows,
        apis=(ApiRow(1, "payments", "Payments", 1, 1, base_path="/payments", **(api or {})),),
        versions=(
            ApiVersionRow(1, 1, "v1", path_prefix="/v1", **(v1 or {})),
            ApiVersionRow(2, 1, "v2", path_prefix=v2_prefix),
        ),
        routes=(
            RouteRow(1, 1, 1, path="/charges", methods=("POST", "GET")),
            RouteRow(2, 1, 1, match_type="exact", path="/refunds"),
            RouteRow(3, 2, 1, path="/charges"),
        ),
    )


DEPRECATED = {
    "lifecycle": "deprecated",
    "deprecated_at": DEPRECATED_AT,
    "sunset_at": SUNSET_AT,
    "successor_id": 2,
    "changelog_url": CHANGELOG,
}
RETIRED = {**DEPRECATED, "lifecycle": "retired"}


def compiled_hosts(rows: Rows) -> dict[str, list[Any]]:
    compiled = compile_snapshot(rows, GATEWAY)
    assert compiled.errors == ()
    routes_set = next(s for s in compiled.snapshot.sets if s.type_url == type_urls.ROUTE)
    config = route_pb2.RouteConfiguration()
    assert routes_set.resources[0].body.Unpack(config)
    return {vh.domains[0]: list(vh.routes) for vh in config.virtual_hosts}


def compiled_routes(rows: Rows) -> list[Any]:
    return compiled_hosts(rows)["*"]


def by_name(routes: list[Any]) -> dict[str, Any]:
    return {r.name: r for r in routes}


def headers_to_add(route: Any) -> list[tuple[str, str, int]]:
    return [(h.header.key, h.header.value, h.append_action) for h in route.response_headers_to_add]


def ext_authz_of(route: Any) -> Any:
    per_route = ext_authz_pb2.ExtAuthzPerRoute()
    assert route.typed_per_filter_config[EXT_AUTHZ].Unpack(per_route)
    return per_route


def authz_disabled(route: Any) -> bool:
    """Whether the route turns ext_authz off; a route without its own ext_authz config
    (an upstream route in HTTP mode) leaves it on."""
    return EXT_AUTHZ in route.typed_per_filter_config and ext_authz_of(route).disabled


def expected_retired_body() -> str:
    return retired_problem(
        "Payments",
        "v1",
        sunset_at=SUNSET_AT,
        successor=Successor("v2", "/payments/v2"),
        changelog_url=CHANGELOG,
    )


def refusals(rows: Rows) -> str:
    compiled = compile_snapshot(rows, GATEWAY)
    assert compiled.snapshot is None
    return "\n".join(compiled.errors)


# Deprecated versions


def test_deprecated_version_routes_send_deprecation_sunset_and_both_links():
    routes = by_name(compiled_routes(payments(DEPRECATED)))
    expected = [
        ("deprecation", "@1761955200", OVERWRITE),
        ("sunset", "Sun, 01 Nov 2026 00:00:00 GMT", OVERWRITE),
        (
            "link",
            '</payments/v2>; rel="successor-version", '
            f'<{CHANGELOG}>; rel="deprecation"; type="text/html"',
            APPEND,
        ),
    ]
    assert headers_to_add(routes["route.1"]) == expected
    assert headers_to_add(routes["route.2"]) == expected
    assert headers_to_add(routes["route.3"]) == []


def test_deprecated_version_still_reaches_its_upstream_through_ext_authz_which_counts_it():
    route = by_name(compiled_routes(payments(DEPRECATED)))["route.1"]
    assert route.route.cluster == "upstream.demo"
    assert list(route.route.rate_limits) == []
    assert not authz_disabled(route)
    context = route_identity(route)
    assert (context["lifecycle"], context["cost"], context["failure"]) == (
        "deprecated",
        "1",
        "open",
    )


def test_deprecated_version_hands_ext_authz_its_sunset_and_exact_410_body():
    routes = by_name(compiled_routes(payments(DEPRECATED)))
    # The body's quotes survive the trip (in HTTP mode, inside the route header's JSON).
    assert route_identity(routes["route.1"]) == {
        "api": "1",
        "version": "1",
        "route": "1",
        "lifecycle": "deprecated",
        "owner": "1",
        "cost": "1",
        "failure": "open",
        "sunset": str(SUNSET_AT),
        "retired_body": expected_retired_body(),
    }
    assert "sunset" not in route_identity(routes["route.3"])


def test_deprecated_version_without_dates_or_successor_sends_only_what_it_has():
    rows = payments({"lifecycle": "deprecated", "changelog_url": CHANGELOG})
    route = by_name(compiled_routes(rows))["route.1"]
    assert headers_to_add(route) == [
        ("link", f'<{CHANGELOG}>; rel="deprecation"; type="text/html"', APPEND)
    ]
    assert "sunset" not in route_identity(route)


def test_published_version_with_leftover_dates_sends_no_lifecycle_headers():
    rows = payments({**DEPRECATED, "lifecycle": "published"})
    route = by_name(compiled_routes(rows))["route.1"]
    assert headers_to_add(route) == []
    assert "sunset" not in route_identity(route)


# Retired versions


def test_retired_version_routes_answer_410_themselves_with_no_key_no_count_no_upstream():
    routes = by_name(compiled_routes(payments(RETIRED)))
    for name in ("route.1", "route.2"):
        route = routes[name]
        assert route.WhichOneof("action") == "direct_response"
        assert route.direct_response.status == 410
        assert route.direct_response.body.inline_string == expected_retired_body()
        assert ext_authz_of(route).disabled
        assert headers_to_add(route) == [
            ("content-type", "application/problem+json", OVERWRITE),
            ("cache-control", "no-store", OVERWRITE),
            ("link", '</payments/v2>; rel="successor-version"', APPEND),
        ]
    assert routes["route.3"].route.cluster == "upstream.demo"


def test_retired_body_names_the_successor():
    route = by_name(compiled_routes(payments(RETIRED)))["route.1"]
    problem = json.loads(route.direct_response.body.inline_string)
    assert problem["status"] == 410
    assert problem["type"] == "https://tollgate.dev/problems/version-retired"
    assert problem["successor"] == {"version": "v2", "path": "/payments/v2"}
    assert "Use v2 at /payments/v2 instead." in problem["detail"]


def test_retired_routes_keep_their_match():
    routes = by_name(compiled_routes(payments(RETIRED)))
    assert routes["route.1"].match.path_separated_prefix == "/payments/v1/charges"
    assert routes["route.1"].match.headers[0].name == ":method"
    assert routes["route.2"].match.path == "/payments/v1/refunds"


def test_retired_version_without_a_successor_sends_no_link():
    rows = payments({"lifecycle": "retired"})
    route = by_name(compiled_routes(rows))["route.1"]
    assert [key for key, _, _ in headers_to_add(route)] == ["content-type", "cache-control"]
    assert json.loads(route.direct_response.body.inline_string)["detail"] == (
        "Payments v1 was retired."
    )


def test_retired_version_gets_a_catch_all_after_its_own_routes():
    names = [r.name for r in compiled_routes(payments(RETIRED))]
    assert names == ["route.1", "route.2", "route.3", "version.1.retired"]
    catch_all = by_name(compiled_routes(payments(RETIRED)))["version.1.retired"]
    assert catch_all.match.path_separated_prefix == "/payments/v1"
    assert list(catch_all.match.headers) == []
    assert catch_all.direct_response.status == 410
    assert ext_authz_of(catch_all).disabled


def test_retired_catch_all_does_not_shadow_a_version_nested_under_its_prefix():
    rows = payments(RETIRED, v2_prefix="/v1/next")
    names = [r.name for r in compiled_routes(rows)]
    # v2 at /payments/v1/next: longer prefix, so all its routes come before v1's catch-all.
    assert names.index("route.3") < names.index("version.1.retired")
    assert names.index("route.1") < names.index("version.1.retired")


def test_retired_catch_all_comes_before_shorter_prefixes_of_other_apis():
    rows = payments(RETIRED)
    root = ApiRow(2, "root", "Root", 1, 1, base_path="/")
    rows = dataclasses.replace(
        rows,
        apis=(*rows.apis, root),
        versions=(*rows.versions, ApiVersionRow(3, 2, "v1")),
        routes=(*rows.routes, RouteRow(4, 3, 1, path="/")),
    )
    names = [r.name for r in compiled_routes(rows)]
    assert names.index("version.1.retired") < names.index("route.4")


def test_retired_version_without_its_own_prefix_or_a_header_gets_no_catch_all():
    rows = payments(RETIRED)
    rows = dataclasses.replace(
        rows, versions=(dataclasses.replace(rows.versions[0], path_prefix=""), rows.versions[1])
    )
    names = [r.name for r in compiled_routes(rows)]
    assert not any(name.startswith("version.") for name in names)


def test_retired_version_with_no_routes_still_answers_410_under_its_prefix():
    rows = payments(RETIRED)
    rows = dataclasses.replace(rows, routes=rows.routes[2:])
    assert [r.name for r in compiled_routes(rows)] == ["route.3", "version.1.retired"]


# Version headers


def test_version_header_selects_each_version_by_name_and_the_default_takes_no_header():
    rows = payments(api={"version_header": "api-version", "default_version_id": 2})
    routes = by_name(compiled_routes(rows))
    assert set(routes) == {"route.1", "route.2", "route.3", "route.3.default"}
    for name, version in (("route.1", "v1"), ("route.2", "v1"), ("route.3", "v2")):
        header = routes[name].match.headers[-1]
        assert (header.name, header.string_match.exact) == ("api-version", version)
    absent = routes["route.3.default"].match.headers[-1]
    assert absent.name == "api-version"
    assert absent.WhichOneof("header_match_specifier") == "present_match"
    assert absent.present_match is False
    # Same path, same upstream, same identity for ext_authz: only the selector differs.
    assert (
        routes["route.3.default"].match.path_separated_prefix
        == routes["route.3"].match.path_separated_prefix
    )
    assert routes["route.3.default"].route.cluster == routes["route.3"].route.cluster
    assert route_identity(routes["route.3.default"]) == route_identity(routes["route.3"])


def test_version_header_keeps_method_matchers():
    rows = payments(api={"version_header": "api-version"})
    route = by_name(compiled_routes(rows))["route.1"]
    assert [h.name for h in route.match.headers] == [":method", "api-version"]


def test_versions_told_apart_only_by_header_may_share_a_prefix():
    rows = payments(api={"version_header": "api-version", "default_version_id": 2}, v2_prefix="/v1")
    routes = by_name(compiled_routes(rows))
    assert routes["route.1"].match.path_separated_prefix == "/payments/v1/charges"
    assert routes["route.3"].match.path_separated_prefix == "/payments/v1/charges"


def test_retired_default_version_catch_all_takes_its_header_and_no_header():
    rows = payments(RETIRED, api={"version_header": "api-version", "default_version_id": 1})
    rows = dataclasses.replace(
        rows, versions=(dataclasses.replace(rows.versions[0], path_prefix=""), rows.versions[1])
    )
    routes = by_name(compiled_routes(rows))
    named = routes["version.1.retired"]
    assert named.match.path_separated_prefix == "/payments"
    assert named.match.headers[0].string_match.exact == "v1"
    default = routes["version.1.retired.default"]
    assert default.match.headers[0].WhichOneof("header_match_specifier") == "present_match"
    assert default.direct_response.status == 410
    names = list(routes)
    assert names[-2:] == ["version.1.retired", "version.1.retired.default"]


# Refused rows


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            payments(v2_prefix="/v1"),
            "Payments v1 and v2 are both served at '/payments/v1': give them different path "
            "prefixes, or the API a version header",
        ),
        (
            payments(api={"version_header": "api-version", "default_version_id": 99}),
            "Payments: its default version is not one of its versions",
        ),
        (payments({"successor_id": 99}), "Payments v1: its successor version does not exist"),
        (payments({"successor_id": 1}), "Payments v1: a version cannot succeed itself"),
        (
            payments({"lifecycle": "deprecated", "deprecated_at": SUNSET_AT, "sunset_at": 1}),
            "Payments v1: its sunset comes before its deprecation",
        ),
        (
            payments({"sunset_at": 10**15}),
            "Payments v1: its sunset is not a date the gateway can send",
        ),
    ],
    ids=[
        "same-prefix-no-header",
        "default-missing",
        "successor-missing",
        "successor-itself",
        "sunset-before-deprecation",
        "sunset-out-of-range",
    ],
)
def test_rows_the_gateway_cannot_serve_are_refused_naming_api_and_version(rows, message):
    assert message in refusals(rows)


def test_default_version_of_another_api_is_refused():
    rows = payments(api={"version_header": "api-version", "default_version_id": 3})
    other = ApiRow(2, "other", "Other", 1, 1, base_path="/other")
    rows = dataclasses.replace(
        rows, apis=(*rows.apis, other), versions=(*rows.versions, ApiVersionRow(3, 2, "v1"))
    )
    assert "Payments: its default version is not one of its versions" in refusals(rows)


def test_successor_in_another_api_is_refused():
    rows = payments({"successor_id": 3})
    other = ApiRow(2, "other", "Other", 1, 1, base_path="/other")
    rows = dataclasses.replace(
        rows, apis=(*rows.apis, other), versions=(*rows.versions, ApiVersionRow(3, 2, "v9"))
    )
    assert "Payments v1: its successor 'v9' is a version of another API" in refusals(rows)


@pytest.mark.parametrize(
    "header",
    ["Api-Version", "api version", ":path", "authorization", "x-api-key", "host", "content-length"],
)
def test_a_version_header_that_is_not_a_free_lower_case_token_is_refused(header):
    message = refusals(payments(api={"version_header": header}))
    assert f"Payments: the version header {header!r}" in message


@pytest.mark.parametrize(
    ("base_path", "prefix", "path"),
    [("/payments", "/v2", "/payments/v2"), ("/", "/v2", "/v2"), ("/", "", "/"), ("/p", "/", "/p")],
)
def test_successor_path_is_its_apis_base_path_and_its_prefix(base_path, prefix, path):
    api = ApiRow(1, "p", "P", 1, 1, base_path=base_path)
    v1 = ApiVersionRow(1, 1, "v1", successor_id=2)
    v2 = ApiVersionRow(2, 1, "v2", path_prefix=prefix)
    assert successor_of(v1, {1: v1, 2: v2}, {1: api}) == Successor("v2", path)
    assert successor_of(v2, {1: v1, 2: v2}, {1: api}) is None


# Sidecar resources


def test_api_policy_names_the_successor_by_its_path():
    compiled = compile_snapshot(payments(DEPRECATED), GATEWAY)
    policies = next(s for s in compiled.snapshot.sets if s.type_url == type_urls.API_POLICY)
    policy = resources_pb2.ApiPolicy()
    assert policies.resources[0].body.Unpack(policy)
    assert [(v.version, v.successor, v.sunset_at) for v in policy.versions] == [
        ("v1", "/payments/v2", SUNSET_AT),
        ("v2", "", 0),
    ]


# Random catalogs


@pytest.mark.parametrize("seed", range(200))
def test_random_catalogs_retire_every_route_of_a_retired_version_behind_its_own_routes(seed):
    rows = random_rows(random.Random(seed))
    versions = {v.id: v for v in rows.versions}
    version_of = {f"route.{r.id}": versions[r.api_version_id] for r in rows.routes}
    for routes in compiled_hosts(rows).values():
        assert len({r.name for r in routes}) == len(routes)
        last_own: dict[int, int] = {}  # version id -> position of its last own route
        for position, route in enumerate(routes):
            name = route.name.removesuffix(".default")
            if name.startswith("version."):  # a catch-all: after every route of its version
                version_id = int(name.split(".")[1])
                assert versions[version_id].lifecycle == "retired"
                assert last_own.get(version_id, -1) < position
                continue
            version = version_of[name]
            last_own[version.id] = position
            retired = version.lifecycle == "retired"
            assert (route.WhichOneof("action") == "direct_response") == retired
            assert authz_disabled(route) == retired
            if retired:  # answered at the gateway: no identity for a check that never runs
                assert ROUTE_IDENTITY_FILTER not in route.typed_per_filter_config
            else:
                identity = route_identity(route)
                assert (identity["version"], identity["lifecycle"]) == (
                    str(version.id),
                    version.lifecycle,
                )

"""The gateway's route table (RDS): one virtual host per hostname, APIs' routes inside.

Envoy does all matching; each route hands ext_authz its identity (API, version, route,
lifecycle, owner, cost, failure mode), so the one decision never re-matches a path: as
context extensions for gRPC, as the route header for HTTP (set by a header-mutation filter
per route); the route header is removed before any request goes upstream. A deprecated version's
routes also hand over its sunset and 410 body, so ext_authz retires it on the second; a
retired version's routes answer 410 themselves (see lifecycle_routes).
"""

import re
from collections import defaultdict
from collections.abc import Sequence

from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from google.protobuf import any_pb2

from extauthz.caller_ids import CALLER_HEADERS
from extauthz.route_context import ROUTE_HEADER, header_value
from mgmt.compiler import token_auth
from mgmt.compiler.access_log import route_metadata
from mgmt.compiler.clusters import cluster_name
from mgmt.compiler.durations import ms
from mgmt.compiler.inputs import (
    ApiRow,
    ApiVersionRow,
    GatewaySettings,
    RouteRow,
    Rows,
    TokenIssuerRow,
    UpstreamRow,
)
from mgmt.compiler.lifecycle_routes import (
    ServedVersion,
    catch_all_routes,
    deprecation_headers,
    retired_route,
    served_versions,
    sunset_context,
    version_selectors,
    with_header,
)
from mgmt.compiler.listener import (
    EXT_AUTHZ_FILTER,
    GRPC_TRANSPORT,
    ROUTE_CONFIG_NAME,
    ROUTE_HEADER_FILTER,
)
from mgmt.compiler.packing import packed
from mgmt.compiler.paths import full_prefix
from mgmt.compiler.rate_limits import route_limits_context
from mgmt.compiler.re2_check import strip_anchors

ANY_HOST = "*"
# (hostless, -prefix length, API id, catch-all, position, id): see _specificity.
SortKey = tuple[int, int, int, int, int, int]


def full_regex(prefix: str, pattern: str) -> str:
    """The owner's pattern, grouped, after the literal prefix: `a|b` must not escape the API."""
    return re.escape(prefix) + "(?:" + strip_anchors(pattern) + ")"


def route_match(api: ApiRow, version: ApiVersionRow, route: RouteRow) -> rc_pb2.RouteMatch:
    prefix = full_prefix(api, version)
    match = rc_pb2.RouteMatch()
    if route.match_type == "exact":
        match.path = prefix + route.path
    elif route.match_type == "regex":
        match.safe_regex.CopyFrom(regex_pb2.RegexMatcher(regex=full_regex(prefix, route.path)))
    else:
        path = (prefix + route.path).rstrip("/")
        # A path-separated prefix matches /a and /a/..., never /ab.
        if path:
            match.path_separated_prefix = path
        else:
            match.prefix = "/"
    if route.methods:
        alternatives = "|".join(sorted(m.upper() for m in route.methods))
        match.headers.append(
            rc_pb2.HeaderMatcher(
                name=":method",
                string_match=string_pb2.StringMatcher(
                    safe_regex=regex_pb2.RegexMatcher(regex=f"^({alternatives})$")
                ),
            )
        )
    return match


def route_context(
    served: ServedVersion,
    route: RouteRow,
    gateway: GatewaySettings,
    issuers: Sequence[TokenIssuerRow] = (),
) -> dict[str, str]:
    """The route's identity, as the one decision reads it (extauthz.route_context)."""
    api, version = served.api, served.version
    context = {
        "api": str(api.id),
        "version": str(version.id),
        "route": str(route.id),
        "lifecycle": version.lifecycle,
        "owner": str(api.organization_id),
        **route_limits_context(route, gateway),
        **sunset_context(served),
        **token_auth.route_tokens_context(api.id, issuers),
    }
    if route.scopes:
        context["scopes"] = " ".join(route.scopes)
    return context


def _identity_configs(context: dict[str, str], transport: str) -> dict[str, any_pb2.Any]:
    """The route's identity for the transport the listener uses, and only that one: Envoy
    copies a route's context extensions into every Check it builds, even in HTTP mode."""
    if transport == GRPC_TRANSPORT:
        per_route = ext_authz_pb2.ExtAuthzPerRoute(
            check_settings=ext_authz_pb2.CheckSettings(context_extensions=context)
        )
        return {EXT_AUTHZ_FILTER: packed(per_route)}
    header = header_mutation_pb2.HeaderMutationPerRoute(
        mutations=header_mutation_pb2.Mutations(
            request_mutations=[
                mutation_rules_pb2.HeaderMutation(
                    append=base_pb2.HeaderValueOption(
                        header=base_pb2.HeaderValue(key=ROUTE_HEADER, value=header_value(context)),
                        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
                    )
                )
            ]
        )
    )
    return {ROUTE_HEADER_FILTER: packed(header)}


def _upstream_route(
    name: str,
    match: rc_pb2.RouteMatch,
    served: ServedVersion,
    route: RouteRow,
    upstream: UpstreamRow,
    *,
    gateway: GatewaySettings,
    issuers: Sequence[TokenIssuerRow],
) -> rc_pb2.Route:
    context = route_context(served, route, gateway, issuers)
    return rc_pb2.Route(
        name=name,
        match=match,
        route=rc_pb2.RouteAction(cluster=cluster_name(upstream), timeout=ms(route.timeout_ms)),
        # The route header is for ext_authz only: it never reaches the upstream.
        # Nor do the caller headers: the identity headers the sidecar adds say who called.
        request_headers_to_remove=[ROUTE_HEADER, *CALLER_HEADERS],
        response_headers_to_add=deprecation_headers(served),
        metadata=route_metadata(api=served.api.id, version=served.version.id, route=route.id),
        typed_per_filter_config={
            **_identity_configs(context, gateway.authz_transport),
            **token_auth.route_config(served.api.id, issuers),
        },
    )


def envoy_routes(
    served: ServedVersion,
    route: RouteRow,
    upstream: UpstreamRow,
    gateway: GatewaySettings,
    issuers: Sequence[TokenIssuerRow] = (),
) -> list[rc_pb2.Route]:
    """The route once per way a request selects its version (see version_selectors)."""
    match = route_match(served.api, served.version, route)
    return [
        retired_route(f"route.{route.id}{suffix}", with_header(match, header), served, route.id)
        if served.retired
        else _upstream_route(
            f"route.{route.id}{suffix}",
            with_header(match, header),
            served,
            route,
            upstream,
            gateway=gateway,
            issuers=issuers,
        )
        for suffix, header in version_selectors(served)
    ]


def _specificity(
    api: ApiRow, version: ApiVersionRow, *, position: int, id_: int, catch_all: bool = False
) -> SortKey:
    """A host's own APIs before the hostless ones, then longer prefixes, then the owner's order.

    A retired version's catch-all comes right after the routes of its prefix length in its
    API: after its own routes, and before the shorter prefixes whose paths it owns anyway.
    """
    hostless = 0 if api.hostnames else 1
    prefix = -len(full_prefix(api, version))
    return (hostless, prefix, api.id, int(catch_all), position, id_)


def route_configuration(rows: Rows, gateway: GatewaySettings) -> route_pb2.RouteConfiguration:
    """Routes of missing upstreams or versions are left out; the consistency check reports them."""
    versions = served_versions(rows)
    upstreams = {u.id: u for u in rows.upstreams}
    placed: list[tuple[SortKey, ApiRow, list[rc_pb2.Route]]] = []
    for route in rows.routes:
        served = versions.get(route.api_version_id)
        upstream = upstreams.get(route.upstream_id)
        if served is None or upstream is None:
            continue
        key = _specificity(served.api, served.version, position=route.position, id_=route.id)
        routes = envoy_routes(served, route, upstream, gateway, rows.token_issuers)
        placed.append((key, served.api, routes))
    for served in versions.values():
        if catch_all := catch_all_routes(served):
            key = _specificity(
                served.api, served.version, position=0, id_=served.version.id, catch_all=True
            )
            placed.append((key, served.api, catch_all))
    placed.sort(key=lambda t: t[0])

    # Appending in sorted order keeps every host's list sorted.
    by_host: dict[str, list[rc_pb2.Route]] = defaultdict(list)
    hosts = sorted({h for a in rows.apis for h in a.hostnames} | {ANY_HOST})
    for _, api, routes in placed:
        # An API with no hostname answers on every host, after that host's own APIs.
        for host in api.hostnames or hosts:
            by_host[host].extend(routes)

    return route_pb2.RouteConfiguration(
        name=ROUTE_CONFIG_NAME,
        virtual_hosts=[
            rc_pb2.VirtualHost(name=f"host.{host}", domains=[host], routes=by_host[host])
            for host in hosts
        ],
    )

"""The gateway's route table (RDS): one virtual host per hostname, APIs' routes inside.

Envoy does all matching; each route hands ext_authz its identity (API, version, route,
lifecycle, owner) through per-route context extensions, so a Check never re-matches a path,
and asks one of the two rate-limit filters (by stage) to count it (see rate_limits).
"""

import re
from collections import defaultdict

from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from google.protobuf import any_pb2

from mgmt.compiler.clusters import cluster_name
from mgmt.compiler.durations import ms
from mgmt.compiler.inputs import ApiRow, ApiVersionRow, RouteRow, Rows, UpstreamRow
from mgmt.compiler.listener import EXT_AUTHZ_FILTER, ROUTE_CONFIG_NAME
from mgmt.compiler.rate_limits import route_rate_limit
from mgmt.compiler.re2_check import strip_anchors

ANY_HOST = "*"


def full_prefix(api: ApiRow, version: ApiVersionRow) -> str:
    """The API base path and version prefix joined, without a trailing slash ('' for root)."""
    return api.base_path.rstrip("/") + version.path_prefix.rstrip("/")


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


def _context(api: ApiRow, version: ApiVersionRow, route: RouteRow) -> any_pb2.Any:
    per_route = ext_authz_pb2.ExtAuthzPerRoute(
        check_settings=ext_authz_pb2.CheckSettings(
            context_extensions={
                "api": str(api.id),
                "version": str(version.id),
                "route": str(route.id),
                "lifecycle": version.lifecycle,
                "owner": str(api.organization_id),
            }
        )
    )
    packed = any_pb2.Any()
    packed.Pack(per_route)
    return packed


def envoy_route(
    api: ApiRow, version: ApiVersionRow, route: RouteRow, upstream: UpstreamRow
) -> rc_pb2.Route:
    return rc_pb2.Route(
        name=f"route.{route.id}",
        match=route_match(api, version, route),
        route=rc_pb2.RouteAction(
            cluster=cluster_name(upstream),
            timeout=ms(route.timeout_ms),
            rate_limits=[route_rate_limit(route)],
        ),
        typed_per_filter_config={EXT_AUTHZ_FILTER: _context(api, version, route)},
    )


def _specificity(
    api: ApiRow, version: ApiVersionRow, route: RouteRow
) -> tuple[int, int, int, int, int]:
    """A host's own APIs before the hostless ones, then longer prefixes, then the owner's order."""
    hostless = 0 if api.hostnames else 1
    return (hostless, -len(full_prefix(api, version)), api.id, route.position, route.id)


def route_configuration(rows: Rows) -> route_pb2.RouteConfiguration:
    """Routes of missing upstreams or versions are left out; the consistency check reports them."""
    apis = {a.id: a for a in rows.apis}
    versions = {v.id: v for v in rows.versions}
    upstreams = {u.id: u for u in rows.upstreams}
    placed: list[tuple[ApiRow, ApiVersionRow, RouteRow]] = []
    for route in rows.routes:
        version = versions.get(route.api_version_id)
        api = apis.get(version.api_id) if version else None
        if version is None or api is None or route.upstream_id not in upstreams:
            continue
        placed.append((api, version, route))
    placed.sort(key=lambda t: _specificity(*t))

    # Appending in sorted order keeps every host's list sorted.
    by_host: dict[str, list[tuple[ApiRow, ApiVersionRow, RouteRow]]] = defaultdict(list)
    hosts = sorted({h for a in rows.apis for h in a.hostnames} | {ANY_HOST})
    for api, version, route in placed:
        # An API with no hostname answers on every host, after that host's own APIs.
        for host in api.hostnames or hosts:
            by_host[host].append((api, version, route))

    return route_pb2.RouteConfiguration(
        name=ROUTE_CONFIG_NAME,
        virtual_hosts=[
            rc_pb2.VirtualHost(
                name=f"host.{host}",
                domains=[host],
                routes=[
                    envoy_route(a, v, r, upstreams[r.upstream_id]) for a, v, r in by_host[host]
                ],
            )
            for host in hosts
        ],
    )

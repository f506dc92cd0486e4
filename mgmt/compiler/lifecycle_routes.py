"""The Envoy side of a version's lifecycle and selection: the headers a deprecated version's
answers carry, the 410 routes that stand in for a retired version, and the header matchers
that pick a version by its name.

A retired version never reaches ext_authz, the rate limiter or an upstream: Envoy answers it
from the route itself, the same for every caller, key or no key.
"""

from dataclasses import dataclass
from typing import Final

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import any_pb2

from extauthz.problems import CONTENT_TYPE, VERSION_RETIRED
from mgmt.compiler import lifecycle
from mgmt.compiler.access_log import route_metadata
from mgmt.compiler.inputs import ApiRow, ApiVersionRow, Rows
from mgmt.compiler.lifecycle import Successor
from mgmt.compiler.listener import EXT_AUTHZ_FILTER
from mgmt.compiler.packing import packed
from mgmt.compiler.paths import full_prefix

DEPRECATED: Final = "deprecated"
RETIRED: Final = "retired"
DEFAULT_SUFFIX: Final = ".default"

_OVERWRITE: Final = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
# Appended, never overwritten: an upstream's own Link headers (pagination) must survive ours.
_APPEND: Final = base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD


@dataclass(frozen=True, slots=True)
class ServedVersion:
    """A version with its API, and what its lifecycle makes the gateway say about it."""

    api: ApiRow
    version: ApiVersionRow
    successor: Successor | None
    # The 410 problem JSON; "" unless the version is retired or has a sunset coming.
    retired_body: str

    @property
    def retired(self) -> bool:
        return self.version.lifecycle == RETIRED

    @property
    def sunset_coming(self) -> bool:
        """Deprecated with a sunset: ext_authz answers 410 from that second on, on its own."""
        return self.version.lifecycle == DEPRECATED and self.version.sunset_at > 0


def served_versions(rows: Rows) -> dict[int, ServedVersion]:
    """Every version whose API exists, by id."""
    apis = {a.id: a for a in rows.apis}
    versions = {v.id: v for v in rows.versions}
    served = {}
    for v in rows.versions:
        api = apis.get(v.api_id)
        if api is None:
            continue
        successor = lifecycle.successor_of(v, versions, apis)
        body = ""
        if v.lifecycle == RETIRED or (v.lifecycle == DEPRECATED and v.sunset_at > 0):
            body = lifecycle.retired_problem(
                api.name,
                v.version,
                sunset_at=v.sunset_at,
                successor=successor,
                changelog_url=v.changelog_url,
            )
        served[v.id] = ServedVersion(api, v, successor, body)
    return served


def _header(key: str, value: str, action: int = _OVERWRITE) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, value=value), append_action=action
    )


def deprecation_headers(served: ServedVersion) -> list[base_pb2.HeaderValueOption]:
    """Deprecation, Sunset and Link on every answer of a deprecated version, upstream or not."""
    version = served.version
    if version.lifecycle != DEPRECATED:
        return []
    headers = []
    if version.deprecated_at > 0:
        headers.append(_header("deprecation", lifecycle.deprecation_header(version.deprecated_at)))
    if version.sunset_at > 0:
        headers.append(_header("sunset", lifecycle.sunset_header(version.sunset_at)))
    links = lifecycle.link_header(
        served.successor.path if served.successor else "", version.changelog_url
    )
    if links:
        headers.append(_header("link", links, _APPEND))
    return headers


def sunset_context(served: ServedVersion) -> dict[str, str]:
    """What ext_authz needs to answer 410 on the sunset's second, even if the job that retires
    the version runs late or management is down."""
    if not served.sunset_coming:
        return {}
    return {"sunset": str(served.version.sunset_at), "retired_body": served.retired_body}


def version_selectors(served: ServedVersion) -> list[tuple[str, rc_pb2.HeaderMatcher | None]]:
    """(route name suffix, header matcher) for each way a request selects this version.

    Without a version header the path alone does (one entry, no matcher). With one, a request
    names the version in it; the API's default version also takes requests that send none.
    """
    header = served.api.version_header
    if not header:
        return [("", None)]
    named = rc_pb2.HeaderMatcher(
        name=header, string_match=string_pb2.StringMatcher(exact=served.version.version)
    )
    selectors: list[tuple[str, rc_pb2.HeaderMatcher | None]] = [("", named)]
    if served.api.default_version_id == served.version.id:
        # present_match false: the header is absent (Envoy's HeaderMatcher docs).
        absent = rc_pb2.HeaderMatcher(name=header, present_match=False)
        selectors.append((DEFAULT_SUFFIX, absent))
    return selectors


def with_header(match: rc_pb2.RouteMatch, header: rc_pb2.HeaderMatcher | None) -> rc_pb2.RouteMatch:
    selected = rc_pb2.RouteMatch()
    selected.CopyFrom(match)
    if header is not None:
        selected.headers.append(header)
    return selected


def _ext_authz_disabled() -> any_pb2.Any:
    return packed(ext_authz_pb2.ExtAuthzPerRoute(disabled=True))


def retired_route(
    name: str, match: rc_pb2.RouteMatch, served: ServedVersion, route_id: int = 0
) -> rc_pb2.Route:
    """410 with the version's problem body, straight from Envoy: no key, no count, no upstream.
    `route_id` 0: the version's catch-all, which is no one route."""
    headers = [_header("content-type", CONTENT_TYPE), _header("cache-control", "no-store")]
    if served.successor is not None:
        headers.append(
            _header("link", lifecycle.link(served.successor.path, lifecycle.SUCCESSOR_REL), _APPEND)
        )
    return rc_pb2.Route(
        name=name,
        match=match,
        direct_response=rc_pb2.DirectResponseAction(
            status=VERSION_RETIRED.status,
            body=base_pb2.DataSource(inline_string=served.retired_body),
        ),
        response_headers_to_add=headers,
        metadata=route_metadata(api=served.api.id, version=served.version.id, route=route_id),
        typed_per_filter_config={EXT_AUTHZ_FILTER: _ext_authz_disabled()},
    )


def catch_all_routes(served: ServedVersion) -> list[rc_pb2.Route]:
    """A retired version's 410 for any path under it, not only its routes' (/v1/whatever).

    Only where a request can be told to be for this version, by its own path prefix or by
    the version header: a catch-all on the API's bare base path would swallow other versions.
    """
    api, version = served.api, served.version
    if not served.retired or not (version.path_prefix.rstrip("/") or api.version_header):
        return []
    prefix = full_prefix(api, version)
    match = (
        rc_pb2.RouteMatch(path_separated_prefix=prefix) if prefix else rc_pb2.RouteMatch(prefix="/")
    )
    return [
        retired_route(f"version.{version.id}.retired{suffix}", with_header(match, header), served)
        for suffix, header in version_selectors(served)
    ]

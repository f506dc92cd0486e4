"""Checks on the rows themselves, worded for the API owner who can fix them in admin."""

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

from mgmt.compiler import tls, token_auth, upstream_tls
from mgmt.compiler.inputs import ApiVersionRow, GatewaySettings, Rows, WindowRow
from mgmt.compiler.paths import full_prefix
from mgmt.compiler.rate_limits import (
    ALGORITHMS,
    ENVOY_5XX,
    FAILURE_MODES,
    MAX_ROUTE_COST,
    QUOTA_PERIOD_MONTHS,
    window_label,
)
from mgmt.compiler.re2_check import re2_error, strip_anchors
from mgmt.compiler.version_header import version_header_error
from ratelimit_svc.limits import MAX_REQUESTS, UNIT_SECONDS, Window

_LIFECYCLES = frozenset({"draft", "published", "deprecated", "retired"})
_MATCH_TYPES = frozenset({"prefix", "exact", "regex"})
# 9999-12-31T23:59:59Z: the last instant an HTTP-date (four-digit year) can say.
MAX_UNIX_SECONDS: Final = 253_402_300_799


def row_errors(rows: Rows) -> list[str]:
    return [
        *_upstream_errors(rows),
        *_api_errors(rows),
        *_version_errors(rows),
        *_route_errors(rows),
        *_limit_errors(rows),
        *tls.hostname_errors(rows.certificates),
        *token_auth.issuer_errors(rows.token_issuers),
        *_scope_errors(rows),
    ]


def _scope_errors(rows: Rows) -> list[str]:
    owners = [(f"route {r.id}", r.scopes) for r in rows.routes]
    owners += [(f'plan "{p.slug}"', p.scopes) for p in rows.plans]
    return [
        f"{owner}: {scope!r} is not an OAuth2 scope token (RFC 6749 §3.3)"
        for owner, scopes in owners
        for scope in scopes
        if not token_auth.is_scope_token(scope)
    ]


def gateway_errors(gateway: GatewaySettings) -> list[str]:
    """The deployment's settings, worded for whoever sets the environment variables."""
    errors = []
    if gateway.ratelimit_fail_closed_status not in ENVOY_5XX:
        errors.append(
            f"TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS {gateway.ratelimit_fail_closed_status} is "
            f"not one of Envoy's 5xx statuses ({', '.join(map(str, sorted(ENVOY_5XX)))})"
        )
    if gateway.authz_transport not in ("http", "grpc"):
        errors.append(f"TOLLGATE_AUTHZ_TRANSPORT {gateway.authz_transport!r} is not http or grpc")
    return errors


def _upstream_errors(rows: Rows) -> list[str]:
    errors = [
        f"upstream name {name!r} is used {count} times"
        for name, count in Counter(u.name for u in rows.upstreams).items()
        if count > 1
    ]
    errors += [
        f"upstream {u.name!r}: endpoint {e.host}:{e.port} has no valid port"
        for u in rows.upstreams
        for e in u.endpoints
        if not 0 < e.port < 65536
    ]
    errors += [error for u in rows.upstreams for error in upstream_tls.tls_errors(u)]
    return errors


def _api_errors(rows: Rows) -> list[str]:
    errors = []
    served: dict[tuple[str, str], str] = {}
    versions = {v.id: v for v in rows.versions}
    for a in sorted(rows.apis, key=lambda a: a.id):
        for host in a.hostnames or ("*",):
            other = served.setdefault((host, a.base_path), a.name)
            if other != a.name:
                errors.append(f"APIs {other!r} and {a.name!r} both serve {a.base_path!r} on {host}")
        if problem := version_header_error(a.version_header):
            errors.append(f"{a.name}: the version header {problem}")
        default = versions.get(a.default_version_id)
        if a.default_version_id and (default is None or default.api_id != a.id):
            errors.append(f"{a.name}: its default version is not one of its versions")
    return errors


def _version_errors(rows: Rows) -> list[str]:
    apis = {a.id: a for a in rows.apis}
    versions = {v.id: v for v in rows.versions}
    errors = []
    for v in sorted(rows.versions, key=lambda v: v.id):
        api = apis.get(v.api_id)
        if api is None:
            errors.append(f"version {v.version!r} belongs to an API that does not exist")
        if v.lifecycle not in _LIFECYCLES:
            errors.append(f"version {v.version!r} has an unknown lifecycle {v.lifecycle!r}")
        label = f"{api.name} {v.version}" if api else f"version {v.version!r}"
        errors += _lifecycle_errors(label, v, versions)
    return errors + _indistinct_version_errors(rows)


def _lifecycle_errors(
    label: str, v: ApiVersionRow, versions: Mapping[int, ApiVersionRow]
) -> list[str]:
    errors = [
        f"{label}: its {name} is not a date the gateway can send"
        for name, unix in (("deprecation", v.deprecated_at), ("sunset", v.sunset_at))
        if not 0 <= unix <= MAX_UNIX_SECONDS
    ]
    if v.deprecated_at > 0 and 0 < v.sunset_at < v.deprecated_at:
        errors.append(f"{label}: its sunset comes before its deprecation")
    if v.successor_id:
        successor = versions.get(v.successor_id)
        if successor is None:
            errors.append(f"{label}: its successor version does not exist")
        elif successor.id == v.id:
            errors.append(f"{label}: a version cannot succeed itself")
        elif successor.api_id != v.api_id:
            errors.append(
                f"{label}: its successor {successor.version!r} is a version of another API"
            )
    return errors


def _indistinct_version_errors(rows: Rows) -> list[str]:
    """Without a version header, two versions at one prefix would share every path."""
    apis = {a.id: a for a in rows.apis if not a.version_header}
    errors = []
    at: dict[tuple[int, str], str] = {}
    for v in sorted(rows.versions, key=lambda v: v.id):
        if (a := apis.get(v.api_id)) is not None:
            prefix = full_prefix(a, v)
            other = at.setdefault((a.id, prefix), v.version)
            if other != v.version:
                errors.append(
                    f"{a.name} {other} and {v.version} are both served at {prefix or '/'!r}: "
                    "give them different path prefixes, or the API a version header"
                )
    return errors


def _route_errors(rows: Rows) -> list[str]:
    apis = {a.id: a for a in rows.apis}
    versions = {v.id: v for v in rows.versions}
    upstreams = {u.id for u in rows.upstreams}
    errors = []
    for r in rows.routes:
        version = versions.get(r.api_version_id)
        api = apis.get(version.api_id) if version else None
        where = f"route {r.path!r}" + (
            f" of {api.name} {version.version}" if api and version else ""
        )
        if version is None:
            errors.append(f"{where} belongs to a version that does not exist")
        if r.upstream_id not in upstreams:
            errors.append(f"{where} points at an upstream that does not exist")
        if r.match_type not in _MATCH_TYPES:
            errors.append(f"{where} has an unknown match type {r.match_type!r}")
        elif not strip_anchors(r.path).startswith("/"):
            errors.append(f"{where} must start with '/'")
        elif r.match_type == "regex" and (problem := re2_error(r.path)):
            errors.append(f"{where} is not a regular expression Envoy accepts (RE2): {problem}")
        if not 1 <= r.cost <= MAX_ROUTE_COST:
            errors.append(f"{where} costs {r.cost} calls; a call costs 1 to {MAX_ROUTE_COST:,}")
        if r.rate_limit_failure not in FAILURE_MODES:
            errors.append(
                f"{where} has an unknown rate-limit failure mode {r.rate_limit_failure!r} "
                "(open or closed)"
            )
    return errors


def _limit_errors(rows: Rows) -> list[str]:
    errors = []
    months = set(QUOTA_PERIOD_MONTHS.values())
    for p in sorted(rows.plans, key=lambda p: p.id):
        owner = f"plan {p.name!r}"
        errors += _window_errors(owner, p.windows)
        errors += _quota_errors(owner, p.quota_requests)
        if p.quota_period_months not in months:
            errors.append(
                f"{owner}: a quota period of {p.quota_period_months} months is neither "
                "a month nor a year"
            )
    for s in sorted(rows.subscriptions, key=lambda s: s.id):
        if s.windows or s.quota_requests:
            owner = f"subscription {s.id} (plan {s.plan_slug!r})"
            errors += _window_errors(owner, s.windows)
            errors += _quota_errors(owner, s.quota_requests)
    return errors


def _window_errors(owner: str, windows: Iterable[WindowRow]) -> list[str]:
    windows = tuple(windows)
    errors = []
    for w in windows:
        limit = f"{owner}: the limit of {w.requests} per {window_label(w.seconds)}"
        try:  # the sidecar's own bounds: whatever passes here, ratelimit_svc accepts
            Window(requests=w.requests, seconds=w.seconds)
        except ValueError as exc:
            errors.append(f"{limit} is refused: {exc}")
        if w.unit not in UNIT_SECONDS:
            errors.append(f"{limit} has an unknown unit {w.unit!r}")
        if w.algorithm not in ALGORITHMS:
            errors.append(f"{limit} has an unknown algorithm {w.algorithm!r} (sliding or fixed)")
    errors += [
        f"{owner} has {count} limits per {window_label(seconds)}; a window length takes one limit"
        for seconds, count in sorted(Counter(w.seconds for w in windows).items())
        if count > 1
    ]
    return errors


def _quota_errors(owner: str, requests: int) -> list[str]:
    if 0 <= requests <= MAX_REQUESTS:
        return []
    return [f"{owner}: a quota of {requests} requests is outside 1 to {MAX_REQUESTS:,} (or none)"]

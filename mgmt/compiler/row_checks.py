"""Checks on the rows themselves, worded for the API owner who can fix them in admin."""

from collections import Counter
from collections.abc import Iterable

from mgmt.compiler.inputs import GatewaySettings, Rows, WindowRow
from mgmt.compiler.rate_limits import (
    ALGORITHMS,
    ENVOY_5XX,
    FAILURE_MODES,
    MAX_ROUTE_COST,
    QUOTA_PERIOD_MONTHS,
    window_label,
)
from mgmt.compiler.re2_check import re2_error, strip_anchors
from ratelimit_svc.limits import MAX_REQUESTS, UNIT_SECONDS, Window

_LIFECYCLES = frozenset({"draft", "published", "deprecated", "retired"})
_MATCH_TYPES = frozenset({"prefix", "exact", "regex"})


def row_errors(rows: Rows) -> list[str]:
    return [
        *_upstream_errors(rows),
        *_api_errors(rows),
        *_version_errors(rows),
        *_route_errors(rows),
        *_limit_errors(rows),
    ]


def gateway_errors(gateway: GatewaySettings) -> list[str]:
    """The deployment's settings, worded for whoever sets the environment variables."""
    errors = []
    if gateway.ratelimit_fail_closed_status not in ENVOY_5XX:
        errors.append(
            f"TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS {gateway.ratelimit_fail_closed_status} is "
            f"not one of Envoy's 5xx statuses ({', '.join(map(str, sorted(ENVOY_5XX)))})"
        )
    if gateway.ratelimit_timeout_ms < 1:
        errors.append("TOLLGATE_RATELIMIT_TIMEOUT_MS must be at least 1")
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
    return errors


def _api_errors(rows: Rows) -> list[str]:
    errors = []
    served: dict[tuple[str, str], str] = {}
    for a in sorted(rows.apis, key=lambda a: a.id):
        for host in a.hostnames or ("*",):
            other = served.setdefault((host, a.base_path), a.name)
            if other != a.name:
                errors.append(f"APIs {other!r} and {a.name!r} both serve {a.base_path!r} on {host}")
    return errors


def _version_errors(rows: Rows) -> list[str]:
    apis = {a.id for a in rows.apis}
    errors = [
        f"version {v.version!r} belongs to an API that does not exist"
        for v in rows.versions
        if v.api_id not in apis
    ]
    errors += [
        f"version {v.version!r} has an unknown lifecycle {v.lifecycle!r}"
        for v in rows.versions
        if v.lifecycle not in _LIFECYCLES
    ]
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

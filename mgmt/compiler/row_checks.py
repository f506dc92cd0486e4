"""Checks on the rows themselves, worded for the API owner who can fix them in admin."""

from collections import Counter

from mgmt.compiler.inputs import Rows
from mgmt.compiler.re2_check import re2_error, strip_anchors

_LIFECYCLES = frozenset({"draft", "published", "deprecated", "retired"})
_MATCH_TYPES = frozenset({"prefix", "exact", "regex"})


def row_errors(rows: Rows) -> list[str]:
    return [
        *_upstream_errors(rows),
        *_api_errors(rows),
        *_version_errors(rows),
        *_route_errors(rows),
    ]


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
    return errors

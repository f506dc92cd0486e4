"""Checks on the rows themselves, worded for the API owner who can fix them in admin."""

from collections import Counter

from mgmt.compiler.inputs import Rows

_LIFECYCLES = frozenset({"draft", "published", "deprecated", "retired"})
_MATCH_TYPES = frozenset({"prefix", "exact", "regex"})


def row_errors(rows: Rows) -> list[str]:
    errors: list[str] = []
    apis = {a.id: a for a in rows.apis}
    versions = {v.id: v for v in rows.versions}
    upstreams = {u.id: u for u in rows.upstreams}

    for name, count in Counter(u.name for u in rows.upstreams).items():
        if count > 1:
            errors.append(f"upstream name {name!r} is used {count} times")
    for u in rows.upstreams:
        for e in u.endpoints:
            if not 0 < e.port < 65536:
                errors.append(f"upstream {u.name!r}: endpoint {e.host}:{e.port} has no valid port")

    served: dict[tuple[str, str], str] = {}
    for a in sorted(rows.apis, key=lambda a: a.id):
        for host in a.hostnames or ("*",):
            other = served.setdefault((host, a.base_path), a.name)
            if other != a.name:
                errors.append(f"APIs {other!r} and {a.name!r} both serve {a.base_path!r} on {host}")

    for v in rows.versions:
        if v.api_id not in apis:
            errors.append(f"version {v.version!r} belongs to an API that does not exist")
        if v.lifecycle not in _LIFECYCLES:
            errors.append(f"version {v.version!r} has an unknown lifecycle {v.lifecycle!r}")

    for r in rows.routes:
        version = versions.get(r.api_version_id)
        where = f"route {r.path!r}" + (
            f" of {apis[version.api_id].name} {version.version}"
            if version and version.api_id in apis
            else ""
        )
        if version is None:
            errors.append(f"{where} belongs to a version that does not exist")
        if r.upstream_id not in upstreams:
            errors.append(f"{where} points at an upstream that does not exist")
        if r.match_type not in _MATCH_TYPES:
            errors.append(f"{where} has an unknown match type {r.match_type!r}")
        if not r.path.startswith("/") and r.match_type != "regex":
            errors.append(f"{where} must start with '/'")
    return errors

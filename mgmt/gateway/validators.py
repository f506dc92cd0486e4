"""Field validators for what becomes Envoy config: refuse it here, before Envoy sees it."""

import re

from django.core.exceptions import ValidationError

from mgmt.compiler.clusters import is_ip_address
from mgmt.compiler.rate_limits import window_label
from mgmt.compiler.re2_check import re2_error, strip_anchors
from mgmt.compiler.token_auth import is_scope_token
from mgmt.compiler.version_header import version_header_error
from ratelimit_svc.limits import MAX_REQUESTS, MAX_WINDOW_SECONDS

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


def split_list(raw: str) -> list[str]:
    """Items of a comma- or newline-separated field, trimmed, empty ones dropped."""
    return [item.strip() for item in re.split(r"[,\n]", raw) if item.strip()]


def validate_hostname(host: str) -> None:
    """A DNS name, optionally with a leading `*.` wildcard, as Envoy's virtual host domains take."""
    name = host[2:] if host.startswith("*.") else host
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValidationError(
            f"{host!r} is not a valid hostname (lower-case DNS name, e.g. api.example.com)"
        )


def validate_hostnames(raw: str) -> None:
    hosts = split_list(raw)
    seen: set[str] = set()
    for host in hosts:
        validate_hostname(host)
        if host in seen:
            raise ValidationError(f"hostname {host!r} is listed twice")
        seen.add(host)


def validate_endpoint_host(host: str) -> None:
    """An IP address (served over EDS) or a DNS name (the cluster then resolves it)."""
    if host.startswith("*."):
        raise ValidationError("an endpoint is one host: a wildcard never resolves")
    if not is_ip_address(host):
        validate_hostname(host)


def validate_path(path: str) -> None:
    if not _PATH.fullmatch(path):
        raise ValidationError(f"{path!r} must start with '/' and hold only URL path characters")
    if "//" in path or "/../" in path or path.endswith("/.."):
        raise ValidationError(f"{path!r} must not contain '//' or '..' segments")


def validate_base_path(path: str) -> None:
    validate_path(path)
    if len(path) > 1 and path.endswith("/"):
        raise ValidationError(f"{path!r}: a base path does not end with '/'")


def validate_slug(value: str) -> None:
    if not _SLUG.fullmatch(value):
        raise ValidationError(f"{value!r} must be lower-case letters, digits and '-' (max 63)")


def validate_methods(raw: str) -> None:
    unknown = [m for m in split_list(raw) if m.upper() not in _METHODS]
    if unknown:
        raise ValidationError(f"unknown HTTP method(s): {', '.join(unknown)}")


def split_scopes(raw: str) -> list[str]:
    """The scope tokens of a space-separated field (OAuth's own separator), in order, once each."""
    return list(dict.fromkeys(raw.split()))


def validate_scopes(raw: str) -> None:
    bad = [token for token in split_scopes(raw) if not is_scope_token(token)]
    if bad:
        raise ValidationError(
            f"not a scope token (RFC 6749 §3.3: printable ASCII, no quote, backslash or "
            f"space): {', '.join(repr(b) for b in bad)}"
        )


def validate_re2(pattern: str) -> None:
    """Envoy matches with RE2: refuse what RE2 refuses, with RE2's own words."""
    if not strip_anchors(pattern).startswith("/"):
        raise ValidationError("a path pattern starts with '/'")
    problem = re2_error(pattern)
    if problem:
        raise ValidationError(f"Envoy's RE2 refuses this pattern: {problem}")


def validate_version_header(name: str) -> None:
    problem = version_header_error(name)
    if problem:
        raise ValidationError(problem)


def validate_limit_requests(value: int) -> None:
    """Requests per window: a limit of 0 is a suspension in disguise, and is refused as one."""
    if value == 0:
        raise ValidationError(
            "a limit of 0 would refuse every call: to stop this traffic, "
            "suspend the subscription instead"
        )
    if not 1 <= value <= MAX_REQUESTS:
        raise ValidationError(f"a limit is 1 to {MAX_REQUESTS:,} requests per window")


def validate_quota_requests(value: int) -> None:
    if value == 0:
        raise ValidationError(
            "a quota of 0 would refuse every call: leave it empty for no quota, "
            "or suspend the subscription instead"
        )
    if not 1 <= value <= MAX_REQUESTS:
        raise ValidationError(f"a quota is 1 to {MAX_REQUESTS:,} requests per period")


def validate_window_seconds(seconds: int) -> None:
    if seconds > MAX_WINDOW_SECONDS:
        raise ValidationError(
            f"a window lasts at most {window_label(MAX_WINDOW_SECONDS)}; "
            f"{window_label(seconds)} is too long (use a quota for longer periods)"
        )


def duplicate_window_message(owner: str, seconds: int) -> str:
    return (
        f"this {owner} already has a limit per {window_label(seconds)} ({seconds} seconds): "
        "one limit per window length, so change that limit instead"
    )


def validate_openapi_document(text: str) -> None:
    from mgmt.developers.openapi_document import OpenApiDocumentError, parse_openapi_document

    if not text.strip():
        return
    try:
        parse_openapi_document(text)
    except OpenApiDocumentError as exc:
        raise ValidationError(str(exc)) from None

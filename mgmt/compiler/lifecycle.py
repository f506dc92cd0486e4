"""What a deprecated or retired API version tells its callers: header values and the 410 body.

Pure functions with no Envoy in them: the compiler puts their strings into routes and the
ext_authz context; the end-to-end tests and mgmt import them to know what callers will see.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Final
from urllib.parse import quote

from extauthz.problems import VERSION_RETIRED
from mgmt.compiler.inputs import ApiRow, ApiVersionRow
from mgmt.compiler.paths import version_path

SUCCESSOR_REL: Final = "successor-version"  # RFC 5829
DEPRECATION_REL: Final = "deprecation"  # RFC 9745 section 3
CHANGELOG_MEDIA_TYPE: Final = "text/html"
# RFC 3986 reserved characters and '%' stay as they are; whatever else could end the
# <...> of a link (>, space, '"') or is not ASCII is percent-encoded.
_URI_SAFE: Final = ":/?#[]@!$&'()*+,;=%"


@dataclass(frozen=True, slots=True)
class Successor:
    """The version a deprecated or retired one sends its callers to."""

    version: str
    path: str


def successor_of(
    version: ApiVersionRow, versions: Mapping[int, ApiVersionRow], apis: Mapping[int, ApiRow]
) -> Successor | None:
    """The version's successor and its path; None for none, or one that does not exist
    (row_checks refuses that before anything is published)."""
    successor = versions.get(version.successor_id)
    api = apis.get(successor.api_id) if successor else None
    if successor is None or api is None:
        return None
    return Successor(successor.version, version_path(api, successor))


def deprecation_header(unix: int) -> str:
    """The Deprecation field value (RFC 9745): a structured-field Date, `@` and unix seconds."""
    return f"@{unix:d}"


def http_date(unix: int) -> str:
    """An IMF-fixdate (RFC 9110 section 5.6.7), always GMT: `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return formatdate(unix, usegmt=True)


def sunset_header(unix: int) -> str:
    """The Sunset field value (RFC 8594): the HTTP-date from which the version stops answering."""
    return http_date(unix)


def rfc3339(unix: int) -> str:
    """`2026-11-01T00:00:00Z`: the date format JSON readers expect (RFC 3339, UTC)."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def link(target: str, rel: str, media_type: str = "") -> str:
    """One RFC 8288 link-value, its target percent-encoded so it cannot break out of `<...>`."""
    value = f'<{quote(target, safe=_URI_SAFE)}>; rel="{rel}"'
    return f'{value}; type="{media_type}"' if media_type else value


def link_header(successor_path: str = "", changelog_url: str = "") -> str:
    """The Link field value of a deprecated version: successor, then changelog ("" for neither)."""
    links = []
    if successor_path:
        links.append(link(successor_path, SUCCESSOR_REL))
    if changelog_url:
        links.append(link(changelog_url, DEPRECATION_REL, CHANGELOG_MEDIA_TYPE))
    return ", ".join(links)


def retired_problem(
    api_name: str,
    version: str,
    *,
    sunset_at: int = 0,
    successor: Successor | None = None,
    changelog_url: str = "",
) -> str:
    """The 410 body (RFC 9457) of a retired version: VERSION_RETIRED's type and title, with a
    detail and extension members that name this version, its sunset and where to go instead."""
    when = f" on {http_date(sunset_at)}" if sunset_at else ""
    detail = f"{api_name} {version} was retired{when}."
    extensions: dict[str, object] = {"version": version}
    if sunset_at:
        extensions["sunset"] = rfc3339(sunset_at)
    if successor is not None:
        detail += f" Use {successor.version} at {successor.path} instead."
        extensions["successor"] = {"version": successor.version, "path": successor.path}
    if changelog_url:
        detail += f" What changed: {changelog_url}"
        extensions["changelog"] = changelog_url
    return VERSION_RETIRED.json(detail, extensions)

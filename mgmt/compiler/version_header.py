"""Which request headers may select an API version: refused in admin and compiler alike."""

import re
from typing import Final

_TOKEN: Final = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Headers that already mean something to Envoy, to HTTP or to Tollgate's credentials.
RESERVED: Final = frozenset(
    {
        "authorization",
        "x-api-key",
        "host",
        "content-length",
        "content-type",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "cookie",
        "x-consumer-id",
        "x-application-id",
        "x-plan",
    }
)


def version_header_error(name: str) -> str | None:
    """Why `name` cannot select a version, or None when it can ("" means no header)."""
    if name == "":
        return None
    if not _TOKEN.fullmatch(name):
        return f"{name!r} is not a lower-case HTTP header name (e.g. api-version)"
    if name in RESERVED or name.startswith(("x-envoy-", ":")):
        return f"{name!r} is reserved: pick a header of your own, e.g. api-version"
    return None

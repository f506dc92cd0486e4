"""Problem bodies (RFC 9457) for the replies Envoy itself generates, mapped by response flag."""

import json

PROBLEM_BASE = "https://tollgate.dev/problems/"


def problem_json(slug: str, status: int, title: str, detail: str) -> str:
    return json.dumps(
        {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail},
        separators=(",", ":"),
    )


# (response flags, status, slug, title, detail); Envoy's own local replies.
ENVOY_PROBLEMS: tuple[tuple[tuple[str, ...], int, str, str, str], ...] = (
    (
        ("UAEX",),
        503,
        "authorization-unavailable",
        "Authorization unavailable",
        "The gateway could not reach its authorization service; the request was not sent.",
    ),
    (("NR",), 404, "unknown-api", "Unknown API", "No API is served at this address."),
    (
        ("UH", "UF", "URX"),
        503,
        "upstream-unavailable",
        "Upstream unavailable",
        "The service behind this API has no healthy endpoint or refused the connection.",
    ),
    (
        ("UT",),
        504,
        "upstream-timeout",
        "Upstream timeout",
        "The service behind this API timed out.",
    ),
)

"""Problem bodies (RFC 9457) for the replies Envoy generates itself, mapped by response flag.

One catalogue for the whole gateway: the sidecar's problems (extauthz.problems) where
Envoy answers the same situation, and the upstream failures only Envoy sees. A 429 or a
fail-closed 503 is never here: the sidecar writes its own body for those.
"""

from typing import Final

from extauthz.problems import CONTENT_TYPE, UNAVAILABLE, UNKNOWN_API, Problem
from ratelimit_svc.problems import RATE_LIMIT_UNAVAILABLE

# Envoy could not get an answer from the sidecar at all: an outage, not a data problem
# (the sidecar's own 503 says it has no credentials yet). Same type: clients match on it.
AUTHORIZATION_UNREACHABLE: Final = Problem(
    UNAVAILABLE.slug,
    503,
    UNAVAILABLE.title,
    "The gateway could not reach its authorization service (down, timed out or answering"
    " garbage); the request was not sent. Retry shortly.",
)

UPSTREAM_UNAVAILABLE: Final = Problem(
    "upstream-unavailable",
    503,
    "Upstream unavailable",
    "The service behind this API has no healthy endpoint or refused the connection.",
)
UPSTREAM_TIMEOUT: Final = Problem(
    "upstream-timeout", 504, "Upstream timeout", "The service behind this API timed out."
)
# Envoy's response code details when ext_authz itself failed (unreachable, timed out,
# broken answer), as opposed to the sidecar's own denials, which carry their own body
# (flag UAEX too, and 503 for a fail-closed route whose counters are down).
EXT_AUTHZ_ERROR: Final = "ext_authz_error"

# Envoy response flags (and, where they are ambiguous, code details) -> its problem.
ENVOY_PROBLEMS: Final[tuple[tuple[tuple[str, ...], str, Problem], ...]] = (
    (("UAEX",), EXT_AUTHZ_ERROR, AUTHORIZATION_UNREACHABLE),  # status_on_error 503
    (("NR",), "", UNKNOWN_API),  # no route matched
    (("UH", "UF", "URX"), "", UPSTREAM_UNAVAILABLE),
    (("UT",), "", UPSTREAM_TIMEOUT),
)
# Envoy's own refusals of a malformed request (codec errors, headers too large, a body
# over a buffer limit, headers too slow): by status, whatever the flag. The sidecar's
# denials are local replies too, with their own body: their code details set them apart.
EXT_AUTHZ_DENIED: Final = "ext_authz_denied"
ENVOY_REQUEST_PROBLEMS: Final = (
    Problem(
        "bad-request",
        400,
        "Bad request",
        "The gateway could not parse this request (malformed HTTP, or no Host header).",
    ),
    Problem(
        "request-timeout",
        408,
        "Request timeout",
        "The request's headers did not arrive in time.",
    ),
    Problem(
        "payload-too-large",
        413,
        "Payload too large",
        "The request body is larger than the gateway accepts.",
    ),
    Problem(
        "request-header-fields-too-large",
        431,
        "Request header fields too large",
        "The request's headers are larger than the gateway accepts (60 KiB in all).",
    ),
)
PROBLEM_CONTENT_TYPE: Final = CONTENT_TYPE
# Not Envoy's to answer any more, but part of the catalogue clients match on.
SIDECAR_PROBLEMS: Final = (RATE_LIMIT_UNAVAILABLE,)

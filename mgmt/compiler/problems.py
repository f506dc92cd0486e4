"""Problem bodies (RFC 9457) for the replies Envoy generates itself, mapped by response flag.

One catalogue for the whole gateway: the sidecar's problems (extauthz.problems) where
Envoy answers the same situation, and the upstream failures only Envoy sees. A 429 or a
fail-closed 503 is never here: the sidecar writes its own body for those.
"""

from typing import Final

from extauthz.problems import CONTENT_TYPE, UNAVAILABLE, UNKNOWN_API, Problem
from ratelimit_svc.problems import RATE_LIMIT_UNAVAILABLE

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
    (("UAEX",), EXT_AUTHZ_ERROR, UNAVAILABLE),  # status_on_error 503
    (("NR",), "", UNKNOWN_API),  # no route matched
    (("UH", "UF", "URX"), "", UPSTREAM_UNAVAILABLE),
    (("UT",), "", UPSTREAM_TIMEOUT),
)
PROBLEM_CONTENT_TYPE: Final = CONTENT_TYPE
# Not Envoy's to answer any more, but part of the catalogue clients match on.
SIDECAR_PROBLEMS: Final = (RATE_LIMIT_UNAVAILABLE,)

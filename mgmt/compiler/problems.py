"""Problem bodies (RFC 9457) for the replies Envoy generates itself, mapped by response flag.

One catalogue for the whole gateway: the sidecar's problems (extauthz.problems) where Envoy
answers the same situation, and the upstream failures only Envoy sees.
"""

from typing import Final

from extauthz.problems import CONTENT_TYPE, UNAVAILABLE, UNKNOWN_API, Problem

UPSTREAM_UNAVAILABLE: Final = Problem(
    "upstream-unavailable",
    503,
    "Upstream unavailable",
    "The service behind this API has no healthy endpoint or refused the connection.",
)
UPSTREAM_TIMEOUT: Final = Problem(
    "upstream-timeout", 504, "Upstream timeout", "The service behind this API timed out."
)

# Envoy response flags -> the problem Envoy answers with.
ENVOY_PROBLEMS: Final[tuple[tuple[tuple[str, ...], Problem], ...]] = (
    (("UAEX",), UNAVAILABLE),  # ext_authz unreachable or failing: status_on_error 503
    (("NR",), UNKNOWN_API),  # no route matched
    (("UH", "UF", "URX"), UPSTREAM_UNAVAILABLE),
    (("UT",), UPSTREAM_TIMEOUT),
)
PROBLEM_CONTENT_TYPE: Final = CONTENT_TYPE

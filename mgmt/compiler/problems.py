"""Problem bodies (RFC 9457) for the replies Envoy generates itself, mapped by response flag.

One catalogue for the whole gateway: the sidecars' problems (extauthz.problems,
ratelimit_svc.problems) where Envoy answers the same situation, and the upstream failures
only Envoy sees. A 429 is never here: ratelimit_svc writes its own over-limit body.
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
# The fail-closed rate-limit filter could not reach ratelimit_svc (status_on_error).
RATE_LIMIT_SERVICE_ERROR: Final = "RLSE"

# Envoy response flags -> the problem Envoy answers with.
ENVOY_PROBLEMS: Final[tuple[tuple[tuple[str, ...], Problem], ...]] = (
    (("UAEX",), UNAVAILABLE),  # ext_authz unreachable or failing: status_on_error 503
    ((RATE_LIMIT_SERVICE_ERROR,), RATE_LIMIT_UNAVAILABLE),  # status: the configured one
    (("NR",), UNKNOWN_API),  # no route matched
    (("UH", "UF", "URX"), UPSTREAM_UNAVAILABLE),
    (("UT",), UPSTREAM_TIMEOUT),
)
PROBLEM_CONTENT_TYPE: Final = CONTENT_TYPE


def envoy_problems(
    ratelimit_fail_closed_status: int,
) -> tuple[tuple[tuple[str, ...], Problem], ...]:
    """ENVOY_PROBLEMS with the rate-limit reply at the deployment's status (body and all)."""
    return tuple(
        (
            flags,
            Problem(problem.slug, ratelimit_fail_closed_status, problem.title, problem.detail)
            if RATE_LIMIT_SERVICE_ERROR in flags
            else problem,
        )
        for flags, problem in ENVOY_PROBLEMS
    )

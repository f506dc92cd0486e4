"""Problems (RFC 9457) of rate limiting, in the same catalogue shape as the sidecar's."""

from typing import Final

from extauthz.problems import Problem

# Envoy answers with this itself (local reply) when a fail-closed route cannot be checked.
RATE_LIMIT_UNAVAILABLE: Final = Problem(
    "rate-limit-unavailable",
    503,
    "Rate limiting unavailable",
    "The rate-limit service could not be reached and this route does not admit unmetered traffic.",
)

# ratelimit_svc answers these itself; the detail it sends names the limit and its reset.
RATE_LIMITED: Final = Problem(
    "rate-limited",
    429,
    "Rate limit exceeded",
    "Too many requests for this application's rate limit; retry after the Retry-After delay.",
)
QUOTA_EXCEEDED: Final = Problem(
    "quota-exceeded",
    429,
    "Quota exceeded",
    "This subscription's quota for the billing period is used up.",
)

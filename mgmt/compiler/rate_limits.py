"""Rate limiting on the gateway side: the vocabulary of limits and what each route tells
the one ext_authz decision (its cost and its failure mode, in the route's context).

A route's failure mode says what happens when the counters (Redis) cannot be reached:
fail-closed routes answer the configured 5xx; fail-open routes are counted by each
sidecar alone at its share of the limits, never unlimited.
"""

from typing import Final

from mgmt.compiler.inputs import GatewaySettings, RouteRow
from ratelimit_svc.limits import UNIT_SECONDS

FAIL_OPEN: Final = "open"
FAIL_CLOSED: Final = "closed"
FAILURE_MODES: Final = frozenset({FAIL_OPEN, FAIL_CLOSED})

# A call to an expensive route counts as `cost` calls against every window and the quota.
MAX_ROUTE_COST: Final = 10_000
ALGORITHMS: Final = frozenset({"sliding", "fixed"})
# Envoy's HttpStatus knows these 5xx codes; a fail-closed reply must be one of them.
ENVOY_5XX: Final = frozenset({500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511})
# Billing periods a quota may have, in months.
QUOTA_PERIOD_MONTHS: Final = {"month": 1, "year": 12}


def window_seconds(unit: str, multiplier: int) -> int:
    """`multiplier` units in seconds; 0 for a unit that does not exist (refused later)."""
    return UNIT_SECONDS.get(unit, 0) * multiplier


def window_label(seconds: int) -> str:
    """`1 minute`, `5 minutes`, `90 seconds`: the largest unit that divides the window."""
    for unit, size in sorted(UNIT_SECONDS.items(), key=lambda item: -item[1]):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"1 {unit}" if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def failure_mode(route: RouteRow) -> str:
    """Anything but an explicit fail-open is treated as fail-closed: never unmetered by accident."""
    return FAIL_OPEN if route.rate_limit_failure == FAIL_OPEN else FAIL_CLOSED


def route_limits_context(route: RouteRow, gateway: GatewaySettings) -> dict[str, str]:
    """What the decision needs to count a call to this route."""
    context = {"cost": str(route.cost), "failure": failure_mode(route)}
    if gateway.ratelimit_fail_closed_status != 503:
        context["closed_status"] = str(gateway.ratelimit_fail_closed_status)
    if gateway.ratelimit_draft03_headers:
        context["headers"] = "draft03"
    return context

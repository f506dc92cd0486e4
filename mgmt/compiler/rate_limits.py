"""Rate limiting on the gateway side: what each route asks Envoy's rate-limit filters for.

Two filters run, one per failure mode (fail open at stage 0, fail closed at stage 1):
Envoy applies a route's `rate_limits` entry only in the filter of the same stage, so each
route picks what happens when the rate-limit service cannot be reached. The descriptor
names come from ratelimit_svc.descriptors, the one vocabulary both sides read.
"""

from typing import Final

from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.type.metadata.v3 import metadata_pb2

from mgmt.compiler.durations import u32
from mgmt.compiler.inputs import RouteRow
from ratelimit_svc import descriptors
from ratelimit_svc.limits import UNIT_SECONDS

FAIL_OPEN: Final = "open"
FAIL_CLOSED: Final = "closed"
FAILURE_MODES: Final = frozenset({FAIL_OPEN, FAIL_CLOSED})
FAIL_OPEN_FILTER: Final = "tollgate.ratelimit.fail_open"
FAIL_CLOSED_FILTER: Final = "tollgate.ratelimit.fail_closed"
FAIL_OPEN_STAGE: Final = 0
FAIL_CLOSED_STAGE: Final = 1

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


def stage(route: RouteRow) -> int:
    """Anything but an explicit fail-open is treated as fail-closed: never unmetered by accident."""
    return FAIL_OPEN_STAGE if route.rate_limit_failure == FAIL_OPEN else FAIL_CLOSED_STAGE


def _from_ext_authz(descriptor_key: str, field: str) -> rc_pb2.RateLimit.Action:
    return rc_pb2.RateLimit.Action(
        metadata=rc_pb2.RateLimit.Action.MetaData(
            descriptor_key=descriptor_key,
            metadata_key=metadata_pb2.MetadataKey(
                key=descriptors.METADATA_NAMESPACE,
                path=[metadata_pb2.MetadataKey.PathSegment(key=field)],
            ),
            source=rc_pb2.RateLimit.Action.MetaData.DYNAMIC,
        )
    )


def route_rate_limit(route: RouteRow) -> rc_pb2.RateLimit:
    """Subscription and application come from what ext_authz learnt, never from the client."""
    limit = rc_pb2.RateLimit(
        stage=u32(stage(route)),
        actions=[
            _from_ext_authz(descriptors.SUBSCRIPTION_KEY, descriptors.SUBSCRIPTION_FIELD),
            _from_ext_authz(descriptors.APPLICATION_KEY, descriptors.APPLICATION_FIELD),
            rc_pb2.RateLimit.Action(
                generic_key=rc_pb2.RateLimit.Action.GenericKey(
                    descriptor_key=descriptors.ROUTE_KEY, descriptor_value=str(route.id)
                )
            ),
        ],
    )
    if route.cost != 1:
        # A descriptor entry, not RateLimit.hits_addend: Envoy 1.40 does not send the
        # route's hits_addend in the RateLimitRequest (seen on the wire in the e2e test).
        limit.actions.append(
            rc_pb2.RateLimit.Action(
                generic_key=rc_pb2.RateLimit.Action.GenericKey(
                    descriptor_key=descriptors.COST_KEY, descriptor_value=str(route.cost)
                )
            )
        )
    return limit

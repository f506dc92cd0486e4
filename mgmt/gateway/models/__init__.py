"""All gateway models, importable from one place."""

from mgmt.gateway.models.access import (
    ApiKey,
    Application,
    Plan,
    PlanRateLimit,
    Subscription,
    SubscriptionRateLimit,
)
from mgmt.gateway.models.catalog import (
    Api,
    ApiVersion,
    Endpoint,
    Organization,
    Product,
    Route,
    Upstream,
)
from mgmt.gateway.models.developers import (
    AccessToken,
    DeveloperAccount,
    Invitation,
    LimitRequest,
    Membership,
    Role,
)
from mgmt.gateway.models.lifecycle import LifecycleEvent, LifecycleNotice
from mgmt.gateway.models.snapshots import (
    NodeCondition,
    Snapshot,
    SnapshotRejection,
    XdsNodeStatus,
)

__all__ = [
    "AccessToken",
    "Api",
    "ApiKey",
    "ApiVersion",
    "Application",
    "DeveloperAccount",
    "Endpoint",
    "Invitation",
    "LifecycleEvent",
    "LifecycleNotice",
    "LimitRequest",
    "Membership",
    "NodeCondition",
    "Organization",
    "Plan",
    "PlanRateLimit",
    "Product",
    "Role",
    "Route",
    "Snapshot",
    "SnapshotRejection",
    "Subscription",
    "SubscriptionRateLimit",
    "Upstream",
    "XdsNodeStatus",
]

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
from mgmt.gateway.models.lifecycle import LifecycleEvent, LifecycleNotice
from mgmt.gateway.models.snapshots import Snapshot, SnapshotRejection, XdsNodeStatus

__all__ = [
    "Api",
    "ApiKey",
    "ApiVersion",
    "Application",
    "Endpoint",
    "LifecycleEvent",
    "LifecycleNotice",
    "Organization",
    "Plan",
    "PlanRateLimit",
    "Product",
    "Route",
    "Snapshot",
    "SnapshotRejection",
    "Subscription",
    "SubscriptionRateLimit",
    "Upstream",
    "XdsNodeStatus",
]

"""Prometheus metrics, per limit: checked, over limit, near limit, shadow hits, backend errors.

The `limit` label is a rule's label and window (`plan:gold:10 per second`, or a YAML
descriptor path): bounded by plans and configuration, never by clients. Who was throttled
goes to the throttle events (throttle_events.py), not into label values.
"""

from typing import Final

from prometheus_client import CollectorRegistry, Counter

# Admitted checks that left less than this share of a limit are "near" it.
NEAR_LIMIT_RATIO: Final = 0.8


class RateLimitMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ("limit",)
        self.total = Counter(
            "tollgate_ratelimit_checks",
            "Checks counted against a limit",
            labels,
            registry=self.registry,
        )
        self.over_limit = Counter(
            "tollgate_ratelimit_over_limit",
            "Checks refused by a limit",
            labels,
            registry=self.registry,
        )
        self.near_limit = Counter(
            "tollgate_ratelimit_near_limit",
            f"Admitted checks that used more than {NEAR_LIMIT_RATIO:.0%} of a limit",
            labels,
            registry=self.registry,
        )
        self.shadow = Counter(
            "tollgate_ratelimit_shadow_over_limit",
            "Checks over a shadow-mode limit (admitted: shadow limits are never enforced)",
            labels,
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "tollgate_ratelimit_backend_errors",
            "Checks answered without counting because the counter store was unreachable; "
            "Envoy then applies the route's failure mode",
            registry=self.registry,
        )
        self.unmatched = Counter(
            "tollgate_ratelimit_unmatched_descriptors",
            "Descriptors no limit applies to (unknown subscription, or no YAML match)",
            ("domain",),
            registry=self.registry,
        )
        self._children: dict[str, tuple[Counter, Counter, Counter, Counter]] = {}

    def record(self, limit: str, *, over: bool, near: bool, shadow_over: bool) -> None:
        children = self._children.get(limit)
        if children is None:
            children = (
                self.total.labels(limit),
                self.over_limit.labels(limit),
                self.near_limit.labels(limit),
                self.shadow.labels(limit),
            )
            self._children[limit] = children
        total, over_limit, near_limit, shadow = children
        total.inc()
        if over:
            over_limit.inc()
        elif near:
            near_limit.inc()
        if shadow_over:
            shadow.inc()

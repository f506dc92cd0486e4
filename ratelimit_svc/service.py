"""ShouldRateLimit: descriptors in, one atomic check of every counter, the response out.

A thin adapter: rules come from mgmt's subscriptions (domain `tollgate`) or the drop-in
YAML (any other domain); counters and the response are built by pure code; Redis is one
script call. When the counters cannot be read the call fails with UNAVAILABLE, so Envoy
applies the route's own failure mode (the fail-open or the fail-closed filter).
"""

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, Protocol

import grpc

from ratelimit_svc import descriptors
from ratelimit_svc.counters import PreparedRule, plan_counters
from ratelimit_svc.limits import MAX_REQUESTS
from ratelimit_svc.metrics import NEAR_LIMIT_RATIO, RateLimitMetrics
from ratelimit_svc.redis_store import ScriptResult, StoreUnavailable
from ratelimit_svc.responses import ALL_OK, encode
from ratelimit_svc.subscription_rules import SubscriptionRules
from ratelimit_svc.throttle_events import ThrottleRecorder
from ratelimit_svc.yaml_config import YamlConfig

log = logging.getLogger(__name__)

# A hits_addend above every possible limit is simply over limit (never counted); capping
# it keeps Redis integers far from overflow whatever a client of the drop-in mode sends.
MAX_HITS: Final = MAX_REQUESTS + 1
# Prepared YAML rules kept per distinct descriptor; cleared when full (bounded memory).
YAML_CACHE_SIZE: Final = 100_000


def route_cost(entries: Any) -> int:
    """The `cost` entry the compiler puts on expensive routes; 0 when absent or unusable."""
    for entry in entries:
        if entry.key == descriptors.COST_KEY:
            value: str = entry.value
            return int(value) if value.isdigit() and len(value) < 13 else 0
    return 0


class CounterStore(Protocol):
    def check(self, keys: list[str], args: list[str]) -> ScriptResult: ...


class NotReady(Exception):
    """The limits for this domain have not arrived yet."""


class RuleResolver:
    """Finds the prepared rule of each descriptor, in mgmt's limits or the YAML config."""

    def __init__(
        self, subscriptions: SubscriptionRules | None, yaml_config: YamlConfig | None
    ) -> None:
        self._subscriptions = subscriptions
        self._yaml = yaml_config
        self._yaml_rules: dict[Hashable, list[PreparedRule | None]] = {}

    def resolve(self, domain: str, request_descriptors: Any) -> list[PreparedRule | None]:
        subscriptions = self._subscriptions
        if domain == descriptors.DOMAIN and subscriptions is not None:
            if not subscriptions.loaded:
                raise NotReady("subscription limits not received from xds_server yet")
            return [self._subscription_rule(subscriptions, d.entries) for d in request_descriptors]
        if self._yaml is None:
            return [None] * len(request_descriptors)
        # The whole request at once: a YAML rule may replace another matched one.
        pairs = tuple(tuple((e.key, e.value) for e in d.entries) for d in request_descriptors)
        cache_key = (domain, pairs)
        cached = self._yaml_rules.get(cache_key)
        if cached is None:
            cached = [
                None if rule is None else PreparedRule.of(rule, name_policies_by_rule=True)
                for rule in self._yaml.rules_for_request(domain, pairs)
            ]
            if len(self._yaml_rules) >= YAML_CACHE_SIZE:
                self._yaml_rules.clear()
            self._yaml_rules[cache_key] = cached
        return cached

    @staticmethod
    def _subscription_rule(subscriptions: SubscriptionRules, entries: Any) -> PreparedRule | None:
        for entry in entries:
            if entry.key == descriptors.SUBSCRIPTION_KEY:
                return subscriptions.rule(entry.value)
        return None


class ShouldRateLimitHandler:
    def __init__(
        self,
        resolver: RuleResolver,
        store: CounterStore,
        metrics: RateLimitMetrics,
        throttles: ThrottleRecorder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._resolver = resolver
        self._store = store
        self._metrics = metrics
        self._throttles = throttles
        self._clock = clock

    def __call__(self, request: Any, context: grpc.ServicerContext) -> bytes:
        domain: str = request.domain
        if not domain:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the domain must not be empty")
        default_hits = request.hits_addend or 1
        rules: list[tuple[PreparedRule, int]] = []
        descriptor_counters: list[Sequence[int]] = []
        counted = 0
        try:
            resolved = self._resolver.resolve(domain, request.descriptors)
        except NotReady as error:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        for descriptor, rule in zip(request.descriptors, resolved, strict=True):
            if rule is None or rule.key_count == 0:
                if rule is None:
                    self._metrics.unmatched.labels(domain).inc()
                descriptor_counters.append(())
                continue
            hits = descriptor.hits_addend.value if descriptor.HasField("hits_addend") else 0
            if domain == descriptors.DOMAIN:
                hits = route_cost(descriptor.entries) or hits
            rules.append((rule, min(hits or default_hits, MAX_HITS)))
            descriptor_counters.append(range(counted, counted + rule.key_count))
            counted += rule.key_count
        if not rules:
            return ALL_OK

        now_ms = int(self._clock() * 1000)
        counters, keys, args = plan_counters(rules, now_ms)
        try:
            result = self._store.check(keys, args)
        except StoreUnavailable as error:
            self._metrics.backend_errors.inc()
            context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        body: bytes
        body, readings = encode(descriptor_counters, counters, result, now_ms)

        record = self._metrics.record
        refused = not result.admitted
        for reading in readings:
            counter = reading.counter
            shadow = counter.shadow
            over = reading.over and not shadow
            near = reading.remaining < (1 - NEAR_LIMIT_RATIO) * counter.limit
            record(counter.metric, over=over, near=near, shadow_over=reading.over and shadow)
            if refused and over and self._throttles is not None:
                owner = counter.rule.rule
                self._throttles.record(
                    (
                        owner.application_id,
                        owner.subscription_id,
                        owner.stem,
                        counter.metric,
                        counter.period is not None,
                    ),
                    now_ms,
                )
        return body

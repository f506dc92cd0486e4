"""mgmt's limits as streamed over xDS: one prepared rule per subscription, sharded.

A RateLimitShard replaces its shard whole (state of the world); a shard whose bytes did
not change keeps its prepared rules, so a one-subscription edit re-prepares one shard.
Swapping the shard tuple is a single reference assignment: checks running on other
threads see the old or the new shard, never a half-built one, and a changed limit
applies to the very next check (no cache to expire, unlike envoyproxy/ratelimit #1077).
"""

import hashlib
import threading
from collections.abc import Callable

from google.protobuf.message import DecodeError

from protos.tollgate.v1 import resources_pb2
from ratelimit_svc.counters import PreparedRule
from ratelimit_svc.limits import UNIT_SECONDS, Algorithm, Quota, Rule, Window

_ALGORITHMS = {
    resources_pb2.RateLimitWindow.SLIDING: Algorithm.SLIDING,
    resources_pb2.RateLimitWindow.FIXED: Algorithm.FIXED,
}


class RulesRefused(ValueError):
    """A RateLimitShard that cannot be applied; its message goes back in the NACK."""


def subscription_rule(limits: resources_pb2.SubscriptionLimits) -> Rule:
    windows = []
    for w in limits.windows:
        algorithm = _ALGORITHMS.get(w.algorithm)
        if algorithm is None:
            raise RulesRefused(f"subscription {limits.subscription_id}: algorithm {w.algorithm}")
        unit = w.unit if w.unit in UNIT_SECONDS else "second"
        windows.append(
            Window(
                requests=w.requests,
                seconds=w.window_seconds,
                algorithm=algorithm,
                shadow=w.shadow,
                unit=unit,
            )
        )
    quota = None
    if limits.HasField("quota"):
        q = limits.quota
        if q.meter:
            quota = Quota.billing_meter(q.period_months, q.anchor)
        else:
            quota = Quota(
                requests=q.requests, period_months=q.period_months, anchor=q.anchor, shadow=q.shadow
            )
    return Rule(
        tag=f"s{limits.subscription_id}",
        stem="",
        label=f"plan:{limits.plan}",
        windows=tuple(windows),
        quota=quota,
        application_id=str(limits.application_id),
        subscription_id=str(limits.subscription_id),
    )


def _prepare_shard(value: bytes) -> tuple[int, int, dict[str, PreparedRule]]:
    try:
        shard = resources_pb2.RateLimitShard.FromString(value)
    except DecodeError as error:
        raise RulesRefused(f"undecodable RateLimitShard: {error}") from None
    count, index = shard.shard_count, shard.index
    if count == 0 or index >= count:
        raise RulesRefused(f"{shard.name}: index {index} outside a count of {count}")
    rules: dict[str, PreparedRule] = {}
    for limits in shard.subscriptions:
        if limits.subscription_id % count != index:
            raise RulesRefused(
                f"{shard.name}: subscription {limits.subscription_id} belongs in another shard"
            )
        try:
            rules[str(limits.subscription_id)] = PreparedRule.of(subscription_rule(limits))
        except ValueError as error:
            raise RulesRefused(f"subscription {limits.subscription_id}: {error}") from None
    return index, count, rules


class SubscriptionRules:
    """Subscription id (as the descriptor carries it) -> its prepared rule."""

    def __init__(self) -> None:
        self._shards: tuple[dict[str, PreparedRule], ...] | None = None
        self._by_digest: dict[bytes, tuple[int, int, dict[str, PreparedRule]]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    @property
    def loaded(self) -> bool:
        return self._shards is not None

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def rule(self, subscription_id: str) -> PreparedRule | None:
        shards = self._shards
        if shards is None or not subscription_id.isdigit():
            return None
        return shards[int(subscription_id) % len(shards)].get(subscription_id)

    def replace_shards(self, values: list[bytes]) -> None:
        """Apply every RateLimitShard of one xDS response, or none of them."""
        with self._lock:
            by_digest: dict[bytes, tuple[int, int, dict[str, PreparedRule]]] = {}
            for value in values:
                digest = hashlib.sha256(value).digest()
                by_digest[digest] = self._by_digest.get(digest) or _prepare_shard(value)
            counts = {count for _, count, _ in by_digest.values()}
            if len(counts) > 1:
                raise RulesRefused(f"shards disagree on the shard count: {sorted(counts)}")
            count = counts.pop() if counts else 0
            shards: list[dict[str, PreparedRule] | None] = [None] * count or [{}]
            for index, _, rules in by_digest.values():
                if shards[index] is not None:
                    raise RulesRefused(f"two shards claim index {index}")
                shards[index] = rules
            missing = [i for i, s in enumerate(shards) if s is None]
            if missing:
                # A missing shard would leave its subscriptions unlimited: refuse instead.
                raise RulesRefused(f"shards {missing} of {count} are missing")
            self._shards = tuple(s for s in shards if s is not None)
            self._by_digest = by_digest
        for listener in self._listeners:
            listener()

    @property
    def subscription_count(self) -> int:
        return sum(len(s) for s in self._shards or ())

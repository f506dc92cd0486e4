"""Counting an allowed caller against its subscription's limits: from this sidecar's lease
when it holds one (no I/O), else one check.lua call that may grant the next lease.

Memory answers on the caller's thread (the event loop for HTTP, a grpcio thread for
gRPC), under one lock that no await is ever made under; everything that waits for Redis
runs on the sidecar's event loop. One Redis check per rule at a time: requests arriving
while it is in flight wait for it and are then served from the lease it brought.

When Redis cannot be reached: fail-closed routes answer 503 (rate-limit-unavailable);
fail-open routes are counted by this sidecar alone at its share of each limit
(local_limits.py), never unlimited.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from prometheus_client import Counter as PromCounter

from ratelimit_svc.async_redis_store import AsyncCounterStore
from ratelimit_svc.counters import QUOTA_GRACE_MS, PreparedRule, plan_counters
from ratelimit_svc.leases import Admitted, LeaseBook, Refused, RuleState
from ratelimit_svc.local_limits import LocalLimits
from ratelimit_svc.metrics import NEAR_LIMIT_RATIO, RateLimitMetrics
from ratelimit_svc.problems import RATE_LIMITED
from ratelimit_svc.redis_store import StoreUnavailable
from ratelimit_svc.subscription_rules import SubscriptionRules
from ratelimit_svc.throttle_events import ThrottleRecorder
from ratelimit_svc.verdicts import Reading, iso, policy_header, refusal, state_header

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The counters cannot be read and the route is fail-closed."""


UNAVAILABLE: Final = Unavailable()
# No limits apply (no windows, no quota, or a subscription not streamed yet): no headers.
UNMETERED: Final = Admitted("", "")
Outcome = Admitted | Refused | Unavailable


class Meter:
    def __init__(
        self,
        rules: SubscriptionRules,
        store: AsyncCounterStore,
        *,
        book: LeaseBook | None = None,
        local: LocalLimits | None = None,
        metrics: RateLimitMetrics | None = None,
        throttles: ThrottleRecorder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rules = rules
        self._store = store
        self.book = book or LeaseBook()
        self._local = local or LocalLimits()
        self.metrics = metrics or RateLimitMetrics()
        self._throttles = throttles
        self._clock = clock
        registry = self.metrics.registry
        self.from_lease = PromCounter(
            "tollgate_ratelimit_lease_admitted",
            "Requests admitted from this sidecar's lease, without a Redis call",
            registry=registry,
        )
        self.local_checks = PromCounter(
            "tollgate_ratelimit_local_checks",
            "Requests counted by this sidecar alone because Redis was unreachable",
            ("outcome",),
            registry=registry,
        )
        self._local_admitted = self.local_checks.labels("admitted")
        self._local_refused = self.local_checks.labels("refused")
        # The same, readable: the degraded watch logs how many in the last minute.
        self.local_counts = [0, 0]
        # Units admitted locally, owed to their quota's (or billing meter's) bucket in Redis:
        # added when Redis answers again, so the meter of record bills them and the quota
        # counts them. {(key, bucket): (units, ttl ms)}; lost only if this sidecar dies first.
        self.owed: dict[tuple[str, str], tuple[int, int]] = {}
        # Top-ups in flight: the loop keeps only weak references to tasks.
        self._top_ups: set[asyncio.Task[None]] = set()
        # Guards the lease book: gRPC threads take from leases too. Never held across an await.
        self._lock = threading.Lock()
        # The loop Redis is asked on; set by `bind` (or the first count made on it).
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The sidecar's event loop: where top-ups asked for by other threads run."""
        self._loop = loop

    def rule_of(self, subscription_id: str) -> PreparedRule | None:
        rule = self._rules.rule(subscription_id)
        return rule if rule is not None and rule.key_count else None

    def count(
        self, rule: PreparedRule, cost: int, fail_closed: bool, tightest: bool = False
    ) -> Outcome | Awaitable[Outcome]:
        """The outcome now when memory decides it, else an awaitable of it (to run on the
        sidecar's event loop). Safe from any thread."""
        now_ms = int(self._clock() * 1000)
        book = self.book
        top_up = False
        taken = None
        with self._lock:
            state = book.state(rule)
            book.arrive(state, now_ms)
            if state.inflight is None:
                taken = book.take(state, cost, now_ms, tightest)
                top_up = isinstance(taken, Admitted) and book.needs_top_up(state)
        if taken is None:
            return self._count_later(state, cost, fail_closed, tightest)
        if isinstance(taken, Admitted):
            self.from_lease.inc()
            if top_up:
                self._ask_top_up(state)
        else:
            self._throttled(rule, now_ms)
        return taken

    async def _count_later(
        self, state: RuleState, cost: int, fail_closed: bool, tightest: bool
    ) -> Outcome:
        book = self.book
        loop = asyncio.get_running_loop()
        self._loop = loop
        while True:
            with self._lock:
                pending = state.inflight
                if pending is None:
                    done: asyncio.Future[None] = loop.create_future()
                    state.inflight = done
                    break
            await asyncio.shield(pending)  # type: ignore[arg-type]
            now_ms = int(self._clock() * 1000)
            with self._lock:
                taken = book.take(state, cost, now_ms, tightest)
            if taken is not None:
                if isinstance(taken, Admitted):
                    self.from_lease.inc()
                return taken
        try:
            return await self._check(state, cost, fail_closed, tightest)
        finally:
            with self._lock:
                state.inflight = None
            done.set_result(None)

    async def _check(
        self, state: RuleState, cost: int, fail_closed: bool, tightest: bool
    ) -> Outcome:
        rule = state.rule
        book = self.book
        now_ms = int(self._clock() * 1000)
        with self._lock:
            extra = book.extra_wanted(state, cost)
            leftovers = book.take_back(state)
        counters, keys, args = plan_counters([(rule, cost)], now_ms, extra)
        try:
            result = await self._store.check(keys, args, leftovers)
        except StoreUnavailable as error:
            self.metrics.backend_errors.inc()
            if fail_closed:
                return UNAVAILABLE
            return self._count_locally(state, cost, now_ms, error)
        readings = [Reading.of(c, result, i, now_ms) for i, c in enumerate(counters)]
        self._record(readings, result.admitted)
        if result.admitted:
            with self._lock:
                book.granted(state, counters, readings, result.granted, now_ms)
                admitted = book.admitted_headers(state, now_ms, tightest)
                quota_left = state.quota_left
            self._local.charge(rule, cost + result.granted, now_ms, quota_left)
            return admitted
        body, retry_after = refusal(readings, now_ms)
        retry_ms = max(r.retry_ms for r in readings if r.over and not r.counter.shadow)
        refused = Refused(body, retry_after, policy_header(readings), state_header(readings))
        with self._lock:
            book.refused(state, cost, refused, now_ms + retry_ms, now_ms)
        self._throttled(rule, now_ms)
        return refused

    def _ask_top_up(self, state: RuleState) -> None:
        """Start a top-up on the loop: at once when called on it, else handed over."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self._start_top_up, state)
            return
        self._start_top_up(state)

    def _start_top_up(self, state: RuleState) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        with self._lock:
            if not self.book.needs_top_up(state):
                return  # asked twice, or the lease ended meanwhile
            done: asyncio.Future[None] = loop.create_future()
            state.inflight = done
        task = loop.create_task(self._top_up(state, done))
        self._top_ups.add(task)
        task.add_done_callback(self._top_ups.discard)

    async def _top_up(self, state: RuleState, done: asyncio.Future[None]) -> None:
        """Reserve the next lease while this one still serves: no request waits for it."""
        try:
            book = self.book
            now_ms = int(self._clock() * 1000)
            with self._lock:
                extra = book.extra_wanted(state, 0)
            counters, keys, args = plan_counters([(state.rule, 0)], now_ms, extra)
            try:
                result = await self._store.check(keys, args)
            except StoreUnavailable:
                return  # the lease runs out, and the next request applies the failure mode
            if result.admitted:
                readings = [Reading.of(c, result, i, now_ms) for i, c in enumerate(counters)]
                with self._lock:
                    late = book.topped_up(state, counters, readings, result.granted, now_ms)
                    quota_left = state.quota_left
                self._local.charge(state.rule, result.granted, now_ms, quota_left)
                if late is not None:
                    await self._store.release([late])
        finally:
            with self._lock:
                state.inflight = None
            done.set_result(None)

    def _count_locally(self, state: RuleState, cost: int, now_ms: int, error: Exception) -> Outcome:
        rule = state.rule
        wait = self._local.admit(rule, cost, now_ms, state.quota_left)
        if wait == 0:
            self._local_admitted.inc()
            self.local_counts[0] += 1
            quota = rule.quota
            if quota is not None:
                period = quota.period_at(now_ms)
                owed_key = (quota.key, str(period.index))
                units, _ = self.owed.get(owed_key, (0, 0))
                self.owed[owed_key] = (units + cost, period.end_ms - now_ms + QUOTA_GRACE_MS)
            return UNMETERED
        self._local_refused.inc()
        self.local_counts[1] += 1
        self._throttled(rule, now_ms)
        retry_after = None if wait < 0 else max(1, -(-wait // 1000))
        detail = (
            "The rate limit is enforced by this gateway node alone while its counter store "
            f"is unreachable ({type(error).__name__}); this node's share is used up."
        )
        body = RATE_LIMITED.json(
            detail,
            {"retry_after": retry_after} if retry_after else {"resets_at": iso(now_ms)},
        ).encode()
        return Refused(body, retry_after)

    def _record(self, readings: list[Reading], admitted: bool) -> None:
        record = self.metrics.record
        for reading in readings:
            counter = reading.counter
            shadow = counter.shadow
            over = reading.over and not shadow and not admitted
            near = reading.remaining < (1 - NEAR_LIMIT_RATIO) * counter.limit
            record(counter.metric, over=over, near=near, shadow_over=reading.over and shadow)

    def _throttled(self, rule: PreparedRule, now_ms: int) -> None:
        if self._throttles is None:
            return
        owner = rule.rule
        self._throttles.record(
            (owner.application_id, owner.subscription_id, owner.stem, owner.label, False), now_ms
        )

    async def sweep(self, interval: float = 0.05) -> None:
        """Give back expired leases, for as long as the sidecar runs; now and then forget
        local counts that have left their windows."""
        pruned_ms = 0
        while True:
            await asyncio.sleep(interval)
            try:
                now_ms = int(self._clock() * 1000)
                with self._lock:
                    releases = self.book.expired(now_ms)
                if now_ms - pruned_ms >= 1000:
                    self._local.prune(now_ms)
                    pruned_ms = now_ms
                    if self.owed:
                        owed, self.owed = self.owed, {}
                        if not await self._store.add_units(owed):
                            for owed_key, (units, ttl) in owed.items():  # keep for later
                                held, _ = self.owed.get(owed_key, (0, 0))
                                self.owed[owed_key] = (held + units, ttl)
                if releases:
                    await self._store.release(releases)
            except Exception as error:  # a bug: the sweeper must outlive it, or leases linger
                log.exception("lease sweep failed: %s", type(error).__name__)


def rate_limit_headers(outcome: Admitted | Refused) -> list[tuple[str, str]]:
    """The RateLimit headers an outcome shows the client (none for shadow-only or local),
    and the draft-03 x-ratelimit-* ones when the route asked for them."""
    if not outcome.policy:
        return []
    headers = [("ratelimit-policy", outcome.policy), ("ratelimit", outcome.state)]
    tightest = outcome.tightest if isinstance(outcome, Admitted) else None
    if tightest is not None:
        limit, seconds, remaining, reset = tightest
        headers += (
            ("x-ratelimit-limit", f"{limit}, {limit};w={seconds}"),
            ("x-ratelimit-remaining", str(remaining)),
            ("x-ratelimit-reset", str(reset)),
        )
    return headers

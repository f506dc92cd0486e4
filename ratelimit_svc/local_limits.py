"""Limits a sidecar enforces alone while Redis cannot be reached, on fail-open routes.

Fail-open never means unlimited: each sidecar takes `1 / sidecars` of every enforced
window (at least one call, so a limit below the number of sidecars is exceeded by up to
that number) and holds it with the same two rules as Redis does (the GCRA pace, and the
bucketed cap of share + slack in any window; see windows.py); of the quota it takes the
same share of what Redis last said was left (or of the whole quota if it never heard).
Pure: no I/O, the time is passed in. With `sidecars` set to the number of sidecars sharing
the limits, the whole gateway admits at most about the limit while Redis is down.

What Redis admitted through this sidecar is charged here too (`charge`: a check's units and
its lease, once per Redis call), so a check that times out on a busy machine is admitted
locally only if this sidecar's share has room beside what Redis just gave it. Forgetting
instead (a fresh local budget after each answer) let each late answer admit one more call:
measured 24 in a second for a limit of 10 under a saturated CPU.
"""

from dataclasses import dataclass

from ratelimit_svc.counters import PreparedRule
from ratelimit_svc.windows import GCRA_TOLERANCE_MS, bucket_count, slack


@dataclass(slots=True)
class _Level:
    """One window's GCRA level, in units, at `updated_ms`, and its buckets (index -> hits)."""

    limit: int
    interval_ms: float
    bucket_ms: int
    span: int
    cap: int
    level: float = 0.0
    updated_ms: int = 0
    buckets: dict[int, int] | None = None

    @classmethod
    def of(cls, limit: int, window_ms: int) -> "_Level":
        bucket_ms = window_ms // bucket_count(window_ms)
        span = window_ms // bucket_ms
        cap = limit + slack(limit, window_ms, bucket_ms)
        return cls(limit, window_ms / limit, bucket_ms, span, cap, buckets={})

    def wait(self, cost: int, now_ms: int) -> float:
        """0 when `cost` fits both rules now, else ms until it would (roughly, for the cap)."""
        drained = max(0.0, self.level - (now_ms - self.updated_ms) / self.interval_ms)
        self.level, self.updated_ms = drained, now_ms
        room = self.limit + GCRA_TOLERANCE_MS / self.interval_ms - drained
        wait = max(0.0, (cost - room) * self.interval_ms)
        buckets = self.buckets
        assert buckets is not None
        oldest = now_ms // self.bucket_ms - self.span
        for index in [i for i in buckets if i < oldest]:
            del buckets[index]
        if sum(buckets.values()) + cost > self.cap:
            # The oldest counted bucket leaving is the soonest the count can drop.
            leaves = (min(buckets) + self.span + 1) * self.bucket_ms - now_ms
            wait = max(wait, float(leaves))
        return wait

    def add(self, cost: int, now_ms: int) -> None:
        self.level += cost
        buckets = self.buckets
        assert buckets is not None
        current = now_ms // self.bucket_ms
        buckets[current] = buckets.get(current, 0) + cost


@dataclass(slots=True)
class _Budget:
    rule: PreparedRule
    windows: list[_Level]
    quota_left: int | None
    # When units were last counted here, and how long until they have all left its windows.
    last_ms: int = 0
    keep_ms: int = 60_000


class LocalLimits:
    """Per rule: its windows' local levels and its share of the quota."""

    def __init__(self, sidecars: int = 1) -> None:
        if sidecars < 1:
            raise ValueError(f"sidecars must be at least 1, got {sidecars}")
        self.sidecars = sidecars
        self._budgets: dict[int, _Budget] = {}

    def admit(
        self, rule: PreparedRule, cost: int, now_ms: int, quota_left: int | None = None
    ) -> int:
        """0 when `cost` units are admitted (and counted here); else ms until they would fit
        (-1: never, on this sidecar's share). `quota_left`: what Redis last said was left of
        the quota, taken into account the first time the rule is seen here."""
        budget = self._budget_of(rule, quota_left)
        wait = 0.0
        for level in budget.windows:
            if cost > level.limit:
                return -1
            wait = max(wait, level.wait(cost, now_ms))
        if budget.quota_left is not None and cost > budget.quota_left:
            return -1
        if wait > 0:
            return int(wait) + 1
        self._add(budget, cost, now_ms)
        return 0

    def charge(
        self, rule: PreparedRule, units: int, now_ms: int, quota_left: int | None = None
    ) -> None:
        """Count `units` Redis admitted through this sidecar (a check's and its lease's),
        without a check; `quota_left` is what Redis said is left of the quota now."""
        budget = self._budget_of(rule, quota_left)
        for level in budget.windows:
            level.wait(0, now_ms)  # drains the level to now, as a check does before it adds
        self._add(budget, units, now_ms)
        if quota_left is not None and budget.quota_left is not None:
            budget.quota_left = max(0, quota_left // self.sidecars)  # the units are in it

    def prune(self, now_ms: int) -> None:
        """Forget rules whose counted units have all left their windows."""
        idle = [k for k, b in self._budgets.items() if now_ms - b.last_ms > b.keep_ms]
        for key in idle:
            del self._budgets[key]

    @property
    def rules_held(self) -> int:
        """How many rules have local counts (a plain property: a LocalLimits is never falsy)."""
        return len(self._budgets)

    def _add(self, budget: _Budget, units: int, now_ms: int) -> None:
        for level in budget.windows:
            level.add(units, now_ms)
        if budget.quota_left is not None:
            budget.quota_left = max(0, budget.quota_left - units)
        budget.last_ms = max(budget.last_ms, now_ms)

    def _budget_of(self, rule: PreparedRule, quota_left: int | None) -> _Budget:
        budget = self._budgets.get(id(rule))
        if budget is None or budget.rule is not rule:
            budget = self._budget(rule, quota_left)
            self._budgets[id(rule)] = budget
        return budget

    def _budget(self, rule: PreparedRule, quota_left: int | None) -> _Budget:
        share = self.sidecars
        windows = []
        for prepared in rule.windows:
            if prepared.shadow:
                continue
            limit = max(1, prepared.limit // share)
            windows.append(_Level.of(limit, prepared.window.seconds * 1000))
        left = None
        quota = rule.quota
        if quota is not None and not quota.shadow:
            known = quota.limit if quota_left is None else quota_left
            left = max(0, known // share)
        longest = max((p.window.seconds * 1000 for p in rule.windows), default=0)
        return _Budget(rule, windows, left, keep_ms=max(60_000, longest))

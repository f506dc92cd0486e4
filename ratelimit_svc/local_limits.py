"""Limits a sidecar enforces alone while Redis cannot be reached, on fail-open routes.

Fail-open never means unlimited: each sidecar takes `1 / sidecars` of every enforced
window (at least one call) and paces it with the same GCRA rule as Redis does, and of the
quota it takes the same share of what Redis last said was left (or of the whole quota if
it never heard). Pure: no I/O, the time is passed in. With `sidecars` set to the number of
sidecars sharing the limits, the whole gateway admits at most the limit while Redis is down.
"""

from dataclasses import dataclass

from ratelimit_svc.counters import PreparedRule
from ratelimit_svc.windows import GCRA_TOLERANCE_MS


@dataclass(slots=True)
class _Level:
    """One window's GCRA level, in units, at `updated_ms`."""

    limit: int
    interval_ms: float
    level: float = 0.0
    updated_ms: int = 0

    def room(self, now_ms: int) -> float:
        drained = max(0.0, self.level - (now_ms - self.updated_ms) / self.interval_ms)
        self.level, self.updated_ms = drained, now_ms
        return self.limit + GCRA_TOLERANCE_MS / self.interval_ms - drained


@dataclass(slots=True)
class _Budget:
    rule: PreparedRule
    windows: list[_Level]
    quota_left: int | None


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
        budget = self._budgets.get(id(rule))
        if budget is None or budget.rule is not rule:
            budget = self._budget(rule, quota_left)
            self._budgets[id(rule)] = budget
        wait = 0.0
        for level in budget.windows:
            if cost > level.limit:
                return -1
            room = level.room(now_ms)
            if cost > room:
                wait = max(wait, (cost - room) * level.interval_ms)
        if budget.quota_left is not None and cost > budget.quota_left:
            return -1
        if wait > 0:
            return int(wait) + 1
        for level in budget.windows:
            level.level += cost
        if budget.quota_left is not None:
            budget.quota_left -= cost
        return 0

    def clear(self) -> None:
        """Forget every local count: Redis is back and counts again."""
        self._budgets.clear()

    def _budget(self, rule: PreparedRule, quota_left: int | None) -> _Budget:
        share = self.sidecars
        windows = []
        for prepared in rule.windows:
            if prepared.shadow:
                continue
            limit = max(1, prepared.limit // share)
            windows.append(_Level(limit, prepared.window.seconds * 1000 / limit))
        left = None
        quota = rule.quota
        if quota is not None and not quota.shadow:
            known = quota.limit if quota_left is None else quota_left
            left = max(0, known // share)
        return _Budget(rule, windows, left)

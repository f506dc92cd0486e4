"""Rules prepared for the hot path, and the counters one request checks.

A `PreparedRule` is built once per snapshot (or config load): its counter keys, shapes
and the script arguments that never change are computed there, so a check only adds
the bucket numbers of the moment. `plan_counters` lays out check.lua's arguments (the
layout is documented in the script).
"""

from dataclasses import dataclass, field
from typing import Final

from ratelimit_svc.limits import Quota, Rule, Window, counter_key
from ratelimit_svc.quota_periods import Period, period_at
from ratelimit_svc.windows import GCRA_TOLERANCE_MS, WindowShape

ENFORCED: Final = "1"
SHADOW: Final = "0"
# check.lua's counter kinds: a sliding window (buckets and the GCRA field) or plain buckets.
PACED: Final = "s"
BUCKETS: Final = "b"
QUOTA_POLICY: Final = "quota"
# A quota counter outlives its period by 7 days: late checks of the old period still see it,
# and the billing close reads the period's final count from it (check.lua keeps the previous
# period's field beside the current one), even after management was down for days.
QUOTA_GRACE_MS: Final = 7 * 86_400_000

_POLICY_NAMES: Final = {1: "second", 60: "minute", 3600: "hour", 86_400: "day"}


def policy_name(window: Window) -> str:
    """The window's name in the RateLimit headers: `minute`, `5-minutes`, `90-seconds`."""
    if window.seconds in _POLICY_NAMES:
        return _POLICY_NAMES[window.seconds]
    for seconds, unit in sorted(_POLICY_NAMES.items(), reverse=True):
        if window.seconds % seconds == 0:
            return f"{window.seconds // seconds}-{unit}s"
    return f"{window.seconds}-seconds"  # unreachable: every window is whole seconds


# A window and a quota show the same face to the response and the metrics: `limit`,
# `shadow`, `label` (for people), `metric` (the metrics label), `policy` (the name in the
# RateLimit headers) and `unit` (for Envoy's x-ratelimit-* headers).


@dataclass(frozen=True, slots=True)
class PreparedWindow:
    window: Window
    shape: WindowShape
    key: str
    policy: str
    metric: str
    # check.lua's fixed arguments of this counter: kind, limit, cap (then hits, current and
    # oldest per check), window ms, ttl ms, mode.
    head_args: tuple[str, str, str]
    tail_args: tuple[str, str, str]
    limit: int
    shadow: bool
    label: str
    unit: str


@dataclass(slots=True)
class PreparedQuota:
    quota: Quota
    key: str
    metric: str
    head_args: tuple[str, str, str]
    mode_arg: str
    window_arg: str
    limit: int
    shadow: bool
    label: str
    unit: str
    policy: str = QUOTA_POLICY
    # The period of the last check: recomputed only when a check falls outside it.
    period: Period | None = None

    def period_at(self, now_ms: int) -> Period:
        period = self.period
        if period is None or not period.start_ms <= now_ms < period.end_ms:
            period = period_at(self.quota.anchor, now_ms, self.quota.period_months)
            self.period = period
        return period


@dataclass(frozen=True, slots=True)
class PreparedRule:
    rule: Rule
    windows: tuple[PreparedWindow, ...]
    quota: PreparedQuota | None
    key_count: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_count", len(self.windows) + (self.quota is not None))

    @classmethod
    def of(cls, rule: Rule, *, name_policies_by_rule: bool = False) -> "PreparedRule":
        """`name_policies_by_rule`: header policy names are the rule's label (YAML mode,
        where several rules may answer one request) instead of the window's unit."""
        windows = []
        for window in rule.windows:
            shape = WindowShape.of(window)
            letter = "s" if shape.span else "f"
            windows.append(
                PreparedWindow(
                    window=window,
                    shape=shape,
                    key=counter_key(rule.tag, rule.stem, f"{letter}{window.seconds}"),
                    policy=rule.label if name_policies_by_rule else policy_name(window),
                    metric=f"{rule.label}:{window.label}",
                    head_args=(
                        PACED if shape.paced else BUCKETS,
                        str(window.requests),
                        str(shape.cap),
                    ),
                    tail_args=(
                        str(shape.window_ms),
                        str(shape.ttl_ms),
                        SHADOW if window.shadow else ENFORCED,
                    ),
                    limit=window.requests,
                    shadow=window.shadow,
                    label=window.label,
                    unit=window.unit,
                )
            )
        quota = None
        if rule.quota is not None:
            q = rule.quota
            quota = PreparedQuota(
                quota=q,
                # The anchor is part of the key: a moved anchor starts a fresh count.
                key=counter_key(rule.tag, rule.stem, f"q{q.period_months}@{q.anchor}"),
                metric=f"{rule.label}:{q.label}",
                head_args=(BUCKETS, str(q.requests), str(q.requests)),
                mode_arg=SHADOW if q.shadow else ENFORCED,
                window_arg="0",
                limit=q.requests,
                shadow=q.shadow,
                label=q.label,
                unit="year" if q.period_months == 12 else "month",
            )
        return cls(rule, tuple(windows), quota)


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter of one request, as sent to the script, with what reading it needs."""

    rule: PreparedRule
    limit_of: PreparedWindow | PreparedQuota
    hits: int
    current: int
    period: Period | None = None  # set for the quota: the billing period counted

    @property
    def limit(self) -> int:
        return self.limit_of.limit

    @property
    def shadow(self) -> bool:
        return self.limit_of.shadow

    @property
    def metric(self) -> str:
        return self.limit_of.metric

    @property
    def seconds(self) -> int:
        """The window's length, or the current billing period's."""
        if self.period is not None:
            return (self.period.end_ms - self.period.start_ms) // 1000
        assert isinstance(self.limit_of, PreparedWindow)
        return self.limit_of.window.seconds

    @property
    def paced(self) -> bool:
        limit_of = self.limit_of
        return isinstance(limit_of, PreparedWindow) and limit_of.shape.paced

    def leaves_at(self, bucket: int) -> int:
        """When bucket `bucket` stops counting (ms)."""
        if self.period is not None:
            return self.period.end_ms
        assert isinstance(self.limit_of, PreparedWindow)
        return self.limit_of.shape.leaves_at(bucket)


_TOLERANCE_ARG: Final = str(GCRA_TOLERANCE_MS)


def plan_counters(
    rules: list[tuple[PreparedRule, int]], now_ms: int, extra: int = 0
) -> tuple[list[Counter], list[str], list[str]]:
    """The counters for `rules` (each with its hits) at `now_ms`: (counters, KEYS, ARGV).

    `extra`: units of a lease wanted beyond the hits (0 for an exact check).
    """
    counters: list[Counter] = []
    keys: list[str] = []
    args: list[str] = [str(extra), str(now_ms), _TOLERANCE_ARG]
    for rule, hits in rules:
        hits_arg = str(hits)
        for prepared in rule.windows:
            shape = prepared.shape
            current = now_ms // shape.bucket_ms
            counters.append(Counter(rule, prepared, hits, current))
            keys.append(prepared.key)
            args += prepared.head_args
            args += (hits_arg, str(current), str(current - shape.span))
            args += prepared.tail_args
        quota = rule.quota
        if quota is not None:
            period = quota.period_at(now_ms)
            counters.append(Counter(rule, quota, hits, period.index, period))
            keys.append(quota.key)
            ttl = period.end_ms - now_ms + QUOTA_GRACE_MS
            index = str(period.index)
            args += quota.head_args
            args += (hits_arg, index, index, quota.window_arg, str(ttl), quota.mode_arg)
    return counters, keys, args

"""What a limit is, once resolved: the windows and quota counted against one identity.

Both configuration sources end here: mgmt's per-subscription limits (streamed over xDS)
and the drop-in envoyproxy/ratelimit YAML. Everything after (window maths, the Redis
script, the response) works on these types alone.
"""

import enum
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote


class Algorithm(enum.Enum):
    # Never more than `requests` in any interval of `seconds` (see windows.py for the bound).
    SLIDING = "sliding"
    # One counter per aligned window: up to 2x `requests` across a window boundary.
    FIXED = "fixed"


UNIT_SECONDS: Final = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86_400,
}

# Hard ceilings: beyond them a value is a typo, and Redis integers must not overflow.
MAX_REQUESTS: Final = 10**12
MAX_WINDOW_SECONDS: Final = 366 * 86_400


@dataclass(frozen=True, slots=True)
class Window:
    """`requests` admitted per `seconds`; `unit` names the window in headers and metrics."""

    requests: int
    seconds: int
    algorithm: Algorithm = Algorithm.SLIDING
    shadow: bool = False
    unit: str = "second"

    def __post_init__(self) -> None:
        if not 1 <= self.requests <= MAX_REQUESTS:
            raise ValueError(f"requests must be between 1 and {MAX_REQUESTS}, got {self.requests}")
        if not 1 <= self.seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(
                f"a window must last between 1 and {MAX_WINDOW_SECONDS} seconds, got {self.seconds}"
            )

    @property
    def label(self) -> str:
        """`10 per second`, `5000 per day`, `100 per 5 minutes`: for people and metrics."""
        per = UNIT_SECONDS.get(self.unit, 1)
        count = self.seconds // per if self.seconds % per == 0 else self.seconds
        unit = self.unit if self.seconds % per == 0 else "second"
        return (
            f"{self.requests} per {unit}" if count == 1 else f"{self.requests} per {count} {unit}s"
        )


@dataclass(frozen=True, slots=True)
class Quota:
    """`requests` per billing period of `period_months`, anchored at `anchor` (unix seconds)."""

    requests: int
    period_months: int = 1
    anchor: int = 0
    shadow: bool = False
    # A billing meter: counts what is admitted per period, limits nothing (see `meter`).
    meter: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.requests <= MAX_REQUESTS:
            raise ValueError(f"requests must be between 1 and {MAX_REQUESTS}, got {self.requests}")
        if not 1 <= self.period_months <= 12:
            raise ValueError(f"a quota period is 1 to 12 months, got {self.period_months}")

    @classmethod
    def billing_meter(cls, period_months: int, anchor: int) -> "Quota":
        """The counter a priced plan without a quota is billed from: a shadow quota as high as
        a counter goes, so the same script counts it and nothing is ever refused by it."""
        return cls(MAX_REQUESTS, period_months, anchor, shadow=True, meter=True)

    @property
    def label(self) -> str:
        if self.meter:
            return "billing meter"
        period = "month" if self.period_months == 1 else f"{self.period_months} months"
        if self.period_months == 12:
            period = "year"
        return f"{self.requests} per {period}"


@dataclass(frozen=True, slots=True)
class Rule:
    """The limits counted against one identity, and where they are counted.

    `tag` is the Redis Cluster hash tag: every counter of one request's rules must share
    it so that a single script sees them all (one subscription, or one YAML domain).
    `stem` tells this identity's counters apart within the tag. `label` names the rule
    in metrics: bounded cardinality (a plan, a YAML descriptor path), never a client id.
    """

    tag: str
    stem: str
    label: str
    windows: tuple[Window, ...] = ()
    quota: Quota | None = None
    application_id: str = ""
    subscription_id: str = ""

    @property
    def unlimited(self) -> bool:
        return not self.windows and self.quota is None


def counter_key(tag: str, stem: str, suffix: str) -> str:
    """`tg:{tag}:stem:suffix`, parts percent-encoded: no value can forge a brace or colon."""
    return f"tg:{{{quote(tag, safe='')}}}:{quote(stem, safe='')}:{suffix}"

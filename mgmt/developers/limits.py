"""The limits a subscription lives under: its plan's windows, each replaced by the
subscription's override of the same length, plus overrides of lengths the plan lacks.
The same rule the compiler applies (mgmt.gateway.models.SubscriptionRateLimit), shown to
the partner before the gateway enforces it."""

from collections.abc import Iterable
from typing import Protocol


class Window(Protocol):
    requests: int
    unit: str
    unit_multiplier: int

    @property
    def window_seconds(self) -> int: ...


def effective_windows(plan: Iterable[Window], overrides: Iterable[Window]) -> list[Window]:
    """Shortest window first; an override wins over the plan's window of its length."""
    by_length: dict[int, Window] = {w.window_seconds: w for w in plan}
    by_length.update({w.window_seconds: w for w in overrides})
    return [by_length[length] for length in sorted(by_length)]

"""Counting degraded, said out loud: a metric, a log line a minute at most, and reports to
the control plane, which admin shows as a banner naming the node and since when.

When Redis cannot be reached, fail-open routes count on this node alone (LocalLimits) and
fail-closed routes refuse. Both are deliberate; neither may be silent. `DegradedWatch` is
the pure part (what to log, when to report); `watch_counters` is its loop.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from prometheus_client import CollectorRegistry, Gauge

log = logging.getLogger(__name__)

COUNTERS_UNREACHABLE: Final = "counters-unreachable"
LOG_EVERY: Final = 60.0
# While degraded the report is repeated, so a control plane restarted meanwhile learns it.
REPORT_EVERY: Final = 30.0


@dataclass(frozen=True, slots=True)
class Condition:
    """One degraded state of this node, as reported: active with its start, or cleared."""

    name: str
    active: bool
    since: float  # wall clock, seconds; when it began (cleared ones: when it began too)
    detail: str


@dataclass(frozen=True, slots=True)
class Tick:
    log: str | None = None
    report: Condition | None = None


def _at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class DegradedWatch:
    """Fed the counter store's state on each tick; says what to log and what to report."""

    def __init__(self, *, log_every: float = LOG_EVERY, report_every: float = REPORT_EVERY):
        self._log_every = log_every
        self._report_every = report_every
        self._since: float | None = None
        self._next_log = 0.0
        self._next_report = 0.0
        self._unreported_clear: Condition | None = None
        self._local_at_log = (0, 0)

    def tick(self, down_since: float | None, now: float, local: tuple[int, int]) -> Tick:
        """`local`: requests admitted and refused on this node alone so far (cumulative)."""
        if down_since is None:
            if self._since is not None:
                # Recovered: the store logged it; the control plane must hear it once.
                self._unreported_clear = self._condition(False, self._since, "")
                self._since = None
            return Tick(report=self._unreported_clear)
        if self._since != down_since:
            # A new outage (the store logged its start): report at once, log in a minute.
            self._since = down_since
            self._unreported_clear = None
            self._next_log = down_since + self._log_every
            self._next_report = now
            self._local_at_log = local
        message = None
        if now >= self._next_log:
            admitted = local[0] - self._local_at_log[0]
            refused = local[1] - self._local_at_log[1]
            message = (
                f"counters unreachable since {_at(down_since)} ({now - down_since:.0f} s): "
                f"fail-open routes count on this node alone ({admitted} admitted, {refused} "
                "refused in the last minute); fail-closed routes refuse"
            )
            self._next_log = now + self._log_every
            self._local_at_log = local
        report = None
        if now >= self._next_report:
            report = self._condition(True, down_since, "")
            self._next_report = now + self._report_every
        return Tick(message, report)

    def reported(self, condition: Condition) -> None:
        """The control plane has it."""
        if condition == self._unreported_clear:
            self._unreported_clear = None

    def report_failed(self, now: float) -> None:
        """Try again on the next tick."""
        self._next_report = now

    def _condition(self, active: bool, since: float, detail: str) -> Condition:
        detail = detail or (
            "Redis (the rate-limit counters) is unreachable from this node: fail-open routes "
            "count on this node alone, fail-closed routes refuse"
        )
        return Condition(COUNTERS_UNREACHABLE, active, since, detail)


def counters_gauges(
    registry: CollectorRegistry, down_since: Callable[[], float | None]
) -> tuple[Gauge, Gauge]:
    """`tollgate_counters_unreachable` (0/1) and since when, read at scrape time."""
    unreachable = Gauge(
        "tollgate_counters_unreachable",
        "1 while Redis (the counters) is unreachable: fail-open routes count on this node "
        "alone, fail-closed routes refuse",
        registry=registry,
    )
    unreachable.set_function(lambda: 0.0 if down_since() is None else 1.0)
    since = Gauge(
        "tollgate_counters_unreachable_since_seconds",
        "Unix time the counters became unreachable; 0 while they are reachable",
        registry=registry,
    )
    since.set_function(lambda: down_since() or 0.0)
    return unreachable, since


Report = Callable[[Condition], Awaitable[None]]


async def watch_counters(
    watch: DegradedWatch,
    down_since: Callable[[], float | None],
    local: Callable[[], tuple[int, int]],
    report: Report | None,
    *,
    interval: float = 1.0,
    clock: Callable[[], float] = time.time,
) -> None:
    """Ticks the watch until cancelled: logs what it says, sends what it reports."""
    while True:
        await asyncio.sleep(interval)
        now = clock()
        tick = watch.tick(down_since(), now, local())
        if tick.log is not None:
            log.warning("%s", tick.log)
        if tick.report is None or report is None:
            continue
        try:
            await report(tick.report)
        except Exception as error:  # the control plane is away: the next tick retries
            log.debug("could not report %s: %s", tick.report.name, type(error).__name__)
            watch.report_failed(now)
        else:
            watch.reported(tick.report)

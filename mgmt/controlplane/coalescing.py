"""When to publish: commits close together become one snapshot, and no commit is lost.

Each commit takes a ticket, the number of publications started before it. A publication
that starts later reads the rows after that commit, so it covers it. Publications run one
at a time, and the next starts no sooner than `gap` seconds after the previous one ended:
an isolated commit publishes at once; a burst waits out the gap and is published once, by
whichever of its committers starts first. A failed publication covers nobody, so its
waiters try themselves. The clock is passed in; mgmt.gateway.publishing drives this from
the committing threads, under one lock.
"""

from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Covered(Generic[R]):
    """A publication that started after the commit has ended: its result covers it."""

    result: R


@dataclass(frozen=True, slots=True)
class Start:
    """This caller publishes now, as publication `number`, and reports `ended` after."""

    number: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Ask again after `seconds`, or when a publication ends (None)."""

    seconds: float | None


class Coalescer(Generic[R]):
    """The state of one process's publications. Not thread-safe: callers hold one lock."""

    def __init__(self) -> None:
        self._started = 0
        self._running = False
        self._ended_at: float | None = None
        self._newest: tuple[int, R] | None = None  # last successful publication and result

    def ticket(self) -> int:
        """Taken once a commit is done: the publications it cannot rely on."""
        return self._started

    def next_step(self, ticket: int, now: float, gap: float) -> Covered[R] | Start | Wait:
        if self._newest is not None and self._newest[0] > ticket:
            return Covered(self._newest[1])
        if self._running:
            return Wait(None)
        if self._ended_at is not None and (opens := self._ended_at + gap) > now:
            return Wait(opens - now)
        self._started += 1
        self._running = True
        return Start(self._started)

    def ended(self, number: int, now: float, result: R | None) -> None:
        """Publication `number` is over; `result` None when it failed."""
        self._running = False
        self._ended_at = now
        if result is not None and (self._newest is None or number > self._newest[0]):
            self._newest = (number, result)

"""When `make run` starts a dead child again: capped exponential backoff, forgiven once the
child has stayed up a while. Pure decisions, no processes and no clock of its own: the
adapter over ProcessGroup (mgmt.embedded.supervise) feeds it times and exits."""

import signal
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 0.25  # seconds before the first restart: a crash is usually a one-off
    factor: float = 2.0  # each further death in a row waits this much longer
    cap: float = 30.0  # a child that keeps dying is still tried twice a minute, forever
    stable_after: float = 60.0  # up this long, the child has recovered: back to `first`

    def __post_init__(self) -> None:
        if self.first <= 0 or self.factor < 1 or self.cap < self.first or self.stable_after < 0:
            raise ValueError(f"not a usable backoff: {self}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number `attempt` (1, 2, ...) of a run of deaths."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        # Past the cap the power only grows: stop computing it before it overflows a float.
        if attempt > 64:
            return self.cap
        return min(self.cap, self.first * self.factor ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class Restart:
    """A decision: start `name` again at `due` (seconds, the caller's monotonic clock)."""

    name: str
    attempt: int  # 1 for the first death after a stable run
    delay: float
    due: float
    uptime: float  # how long the process that died had run


@dataclass(slots=True)
class _Life:
    started_at: float
    attempts: int = 0  # deaths in a row, each within `stable_after` of its start
    pending: Restart | None = None


class Supervisor:
    """Tracks each child by name: when it (re)started, how often in a row it died, and the
    restart it is waiting for. Every method takes `now` from the caller."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        self._lives: dict[str, _Life] = {}

    def started(self, name: str, now: float) -> None:
        """`name` is running since `now` (its first start or a restart)."""
        life = self._lives.get(name)
        if life is None:
            self._lives[name] = _Life(started_at=now)
        else:
            life.started_at, life.pending = now, None

    def exited(self, name: str, now: float) -> Restart:
        """`name` was found dead at `now`: when to start it again."""
        life = self._lives.setdefault(name, _Life(started_at=now))
        if life.pending is not None:
            return life.pending  # already decided: a death is counted once
        uptime = max(0.0, now - life.started_at)
        life.attempts = 1 if uptime >= self.backoff.stable_after else life.attempts + 1
        delay = self.backoff.delay(life.attempts)
        life.pending = Restart(name, life.attempts, delay, now + delay, uptime)
        return life.pending

    def waiting(self, name: str) -> bool:
        """Dead, with its restart decided but not yet done."""
        life = self._lives.get(name)
        return life is not None and life.pending is not None

    def due(self, now: float) -> list[Restart]:
        """The restarts whose time has come, earliest first."""
        ready = [
            life.pending
            for life in self._lives.values()
            if life.pending is not None and life.pending.due <= now
        ]
        return sorted(ready, key=lambda restart: restart.due)


def describe_exit(returncode: int) -> str:
    """`exit code 1`, or `killed by SIGKILL` for Popen's negative return codes."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"

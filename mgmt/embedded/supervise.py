"""Keeps a ProcessGroup's children running: the adapter between mgmt.embedded.supervisor's
decisions and real processes. A dead child is started again with its first command."""

import time
from collections.abc import Callable

from mgmt.embedded.processes import Child, ProcessGroup
from mgmt.embedded.supervisor import Backoff, Supervisor, describe_exit

# Lines of a dead child's own log shown with its restart: usually enough for a traceback.
TAIL_LINES = 20


def supervise(
    group: ProcessGroup,
    *,
    stopping: Callable[[], bool],
    report: Callable[[str], None],
    backoff: Backoff | None = None,
    poll: float = 0.1,
) -> None:
    """Restarts every child of `group` that dies, until `stopping()`; stops nothing itself."""
    supervisor = Supervisor(backoff)
    for child in group.children:
        supervisor.started(child.name, child.started_at)
    while not stopping():
        now = time.monotonic()
        for child in list(group.children):
            code = child.popen.poll()
            if code is not None and not supervisor.waiting(child.name):
                restart = supervisor.exited(child.name, now)
                tail = child.tail(TAIL_LINES)
                report(
                    f"{child.name} (pid {child.popen.pid}) died: {describe_exit(code)} after "
                    f"{restart.uptime:.1f}s up; restart {restart.attempt} in "
                    f"{restart.delay:.2f}s. "
                    + (f"The end of its log:\n{tail}" if tail else "Its log is empty.")
                )
        for restart in supervisor.due(now):
            dead = _named(group, restart.name)
            if dead is None or stopping():
                continue
            try:
                group.restart(dead)
            except OSError as error:  # cannot even spawn (e.g. out of pids): try again later
                supervisor.started(dead.name, time.monotonic())
                report(f"{dead.name} could not be started again: {error}")
                continue
            supervisor.started(dead.name, dead.started_at)
            report(f"{dead.name} restarted (pid {dead.popen.pid}, attempt {restart.attempt})")
        time.sleep(poll)


def _named(group: ProcessGroup, name: str) -> Child | None:
    return next((c for c in group.children if c.name == name), None)

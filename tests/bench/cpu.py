"""CPU time of the processes under test: /proc/<pid>/stat for running ones, wait4 for the load tool.

A process's stat sums all its threads; its live descendants and its reaped children's time
(cutime, cstime) are added too.
"""

import contextlib
import os
import subprocess
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

T = TypeVar("T")

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    # The command name sits in parentheses and may hold spaces; the fields follow the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    # Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the name and state.
    return sum(int(fields[i]) for i in range(11, 15)) / _TICKS_PER_SECOND


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system time so far of a process and its live descendants (a sidecar that forks
    workers is one role), at 10 ms resolution for 100 ticks/s."""
    total = _own_cpu_seconds(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError):  # a child may exit between the two reads
            total += cpu_seconds(child)
    return total


class Proc(NamedTuple):
    """A process whose CPU counts toward a setup, under a role: envoy, sidecar, redis, upstream."""

    role: str
    pid: int
    name: str


def cpu_by_pid(pids: Iterable[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


def cpu_by_role_during(
    processes: Sequence[Proc], run: Callable[[], T]
) -> tuple[T, dict[str, float]]:
    """Calls `run` and returns its result with the CPU seconds each role used meanwhile."""
    before = cpu_by_pid(p.pid for p in processes)
    result = run()
    after = cpu_by_pid(p.pid for p in processes)
    by_role: dict[str, float] = defaultdict(float)
    for p in processes:
        by_role[p.role] += after[p.pid] - before[p.pid]
    return result, dict(by_role)


@dataclass(frozen=True)
class ToolRun:
    """What a load tool printed and the exact CPU it used, from the kernel's rusage."""

    output: str
    cpu_seconds: float
    pid: int


def run_measured(argv: Sequence[str], timeout: float) -> ToolRun:
    """Runs a load tool to completion; its CPU comes from wait4, exact and taken at exit."""
    popen = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert popen.stdout is not None
    watchdog = threading.Timer(timeout, popen.kill)
    watchdog.start()
    try:
        # Reading to EOF first: a tool that writes much can never block on a full pipe.
        output = popen.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(popen.pid, 0)
    except BaseException:
        popen.kill()
        popen.wait()
        raise
    finally:
        watchdog.cancel()
        popen.stdout.close()
    # wait4 reaped the child behind Popen's back; tell it so it never waits again.
    popen.returncode = os.waitstatus_to_exitcode(status)
    if popen.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {popen.returncode}:\n{output[-2000:]}")
    return ToolRun(output, usage.ru_utime + usage.ru_stime, popen.pid)

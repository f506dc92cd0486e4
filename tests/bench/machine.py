"""How busy the machine was apart from the benchmark: numbers from a shared box need that beside
them, since another process's CPU is taken from the setups and shows up as their latency."""

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass

from tests.bench.cpu import cpu_seconds

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class MachineSample:
    busy: float  # CPU seconds spent by every process on the machine, all CPUs
    steal: float  # CPU seconds the hypervisor gave to other guests
    total: float  # every CPU's seconds, idle included
    ours: float  # CPU seconds of the benchmark: its children, the load tools, the harness
    load_average: float


def sample(pids: Iterable[int]) -> MachineSample:
    """`pids`: the running processes the benchmark started."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    harness = resource.getrusage(resource.RUSAGE_SELF)
    tools = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped: wrk and the open-loop client
    ours = sum(cpu_seconds(pid) for pid in pids)
    ours += harness.ru_utime + harness.ru_stime + tools.ru_utime + tools.ru_stime
    return MachineSample(
        busy=(user + nice + system + irq + softirq) / _TICKS_PER_SECOND,
        steal=steal / _TICKS_PER_SECOND,
        total=sum(ticks) / _TICKS_PER_SECOND,
        ours=ours,
        load_average=os.getloadavg()[0],
    )


def describe(before: MachineSample, after: MachineSample) -> str:
    total = after.total - before.total or 1.0
    others = (after.busy - before.busy) - (after.ours - before.ours)
    return (
        f"during the rounds, processes outside the bench used {max(others, 0) / total:.0%} "
        f"of all CPUs, hypervisor steal {(after.steal - before.steal) / total:.0%}; "
        f"load average {before.load_average:.2f} -> {after.load_average:.2f}"
    )

"""Runs wrk (closed loop) against a loopback URL: requests/s, latency percentiles, its own CPU."""

import re
from dataclasses import dataclass

from tests.bench.cpu import run_measured

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    # Connect, read, write errors and timeouts: requests that got no answer at all.
    errors: int
    requests: int
    # CPU seconds wrk itself used, from wait4: the load tool's share of the run.
    tool_cpu_seconds: float


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"wrk printed no {pattern!r}:\n{text}")
    return match.group(1)


def run_wrk(
    url: str, headers: dict[str, str], seconds: int, connections: int, threads: int = 1
) -> LoadResult:
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    run = run_measured([*argv, url], timeout=seconds + 30)
    out = run.output
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_find(r"\s50%\s+(\S+)", out)),
        p99_ms=_ms(_find(r"\s99%\s+(\S+)", out)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
        requests=int(_find(r"(\d+) requests in", out)),
        tool_cpu_seconds=run.cpu_seconds,
    )

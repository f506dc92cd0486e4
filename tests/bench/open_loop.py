"""Open-loop load at a fixed rate, latency counted from each request's scheduled send time.

    python -m tests.bench.open_loop URL [--rate 1000] [--seconds 10] [-H 'name: value']...

prints one JSON line. wrk is closed loop: a slow answer delays the next request and so hides
itself (coordinated omission). Here a thread keeps the schedule whatever the answers do; a
request with no idle connection waits in a queue, and that wait counts in its latency.
The tool's own lateness (send time minus scheduled time) is reported beside the latencies.
"""

import argparse
import asyncio
import contextlib
import json
import math
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import uvloop

from tests.bench.cpu import run_measured

# After the last scheduled send, how long answers may still arrive before the rest count as lost.
_DRAIN_SECONDS = 5.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..1)."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(self, client: "_Client") -> None:
        self._client = client
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.scheduled = 0.0
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but are one.
        self.transport = cast(asyncio.Transport, transport)

    def send(self, scheduled: float) -> None:
        assert self.transport is not None
        self.scheduled = scheduled
        self.sent = time.perf_counter()
        self.transport.write(self._client.request)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._client.lost(self)

    # httptools callback: one whole response has been read.
    def on_message_complete(self) -> None:
        self._client.answered(self, self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.lost(self)


class _Client:
    """Hands each scheduled request to an idle connection, or queues it until one is free."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.idle: deque[_Connection] = deque()
        self.busy: set[_Connection] = set()
        self.waiting: deque[float] = deque()
        self.latency: list[float] = []  # answer time minus scheduled time
        self.service: list[float] = []  # answer time minus actual send time
        # When the request reached the client minus its scheduled time: the tool's own lateness,
        # before any wait for a free connection (that wait is the server's doing).
        self.send_lag: list[float] = []
        self.last_answer = 0.0
        self.non_2xx = 0
        self.errors = 0
        self.settled = asyncio.Event()
        self.expected = 0

    def dispatch(self, scheduled: float) -> None:
        self.send_lag.append(time.perf_counter() - scheduled)
        if self.idle:
            self._send(self.idle.pop(), scheduled)
        else:
            self.waiting.append(scheduled)

    def _send(self, conn: _Connection, scheduled: float) -> None:
        self.busy.add(conn)
        conn.send(scheduled)

    def answered(self, conn: _Connection, status: int) -> None:
        now = self.last_answer = time.perf_counter()
        self.latency.append(now - conn.scheduled)
        self.service.append(now - conn.sent)
        if not 200 <= status < 300:
            self.non_2xx += 1
        self.busy.discard(conn)
        if self.waiting:
            self._send(conn, self.waiting.popleft())
        else:
            # Last in, first out: at low concurrency the same warm connection does the work.
            self.idle.append(conn)
        self._check_settled()

    def lost(self, conn: _Connection) -> None:
        if conn in self.busy:
            self.busy.discard(conn)
            self.errors += 1
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.transport is not None:
            conn.transport.close()
        self._check_settled()

    def _check_settled(self) -> None:
        if len(self.latency) + self.errors >= self.expected:
            self.settled.set()

    def reset(self, expected: int) -> None:
        self.latency.clear()
        self.service.clear()
        self.send_lag.clear()
        self.non_2xx = self.errors = 0
        self.expected = expected
        self.settled.clear()


def _keep_schedule(
    loop: asyncio.AbstractEventLoop, client: _Client, start: float, rate: float, count: int
) -> None:
    """The schedule's own thread: time.sleep wakes far closer to the mark than loop timers,
    which round to the millisecond."""
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        loop.call_soon_threadsafe(client.dispatch, due)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    lines = [f"GET {url.path or '/'} HTTP/1.1", f"host: {host}:{port}", *args.header]
    client = _Client(("\r\n".join(lines) + "\r\n\r\n").encode())
    loop = asyncio.get_running_loop()
    for _ in range(args.connections):
        _, conn = await loop.create_connection(lambda: _Connection(client), host, port)
        client.idle.append(conn)

    # Warm up: one request on every connection, so none pays its first-use cost in the run.
    client.reset(args.connections)
    for _ in range(args.connections):
        client.dispatch(time.perf_counter())
    await asyncio.wait_for(client.settled.wait(), _DRAIN_SECONDS)
    if client.errors or client.non_2xx:
        raise RuntimeError(f"warm-up failed: {client.errors} errors, {client.non_2xx} non-2xx")

    count = int(args.rate * args.seconds)
    client.reset(count)
    # The run's CPU only: the interpreter's start-up is no part of a request's cost.
    cpu_before = _cpu_seconds()
    start = time.perf_counter() + 0.05
    schedule = threading.Thread(
        target=_keep_schedule, args=(loop, client, start, args.rate, count), daemon=True
    )
    schedule.start()
    await asyncio.to_thread(schedule.join)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.settled.wait(), _DRAIN_SECONDS)
    answered = len(client.latency)
    cpu = _cpu_seconds() - cpu_before

    def ms(values: list[float], *quantiles: float) -> dict[str, float]:
        ordered = sorted(values)
        return {f"p{q * 100:g}": percentile(ordered, q) * 1000 for q in quantiles}

    return {
        "scheduled": count,
        "answered": answered,
        "non_2xx": client.non_2xx,
        "errors": count - answered,  # lost connections and answers that never came
        # Below the rate when the server cannot keep up: answers were still queued at the end.
        "achieved_rps": answered / max(client.last_answer - start, args.seconds, 1e-9),
        "cpu_seconds": cpu,
        "latency_ms": ms(client.latency, 0.5, 0.99, 0.999),
        "service_ms": ms(client.service, 0.5, 0.99, 0.999),
        "send_lag_ms": ms(client.send_lag, 0.5, 0.99, 0.999),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("-H", "--header", action="append", default=[], help="'name: value'")
    print(json.dumps(uvloop.run(_run(parser.parse_args()))))


@dataclass(frozen=True)
class OpenLoopResult:
    p50_ms: float
    p99_ms: float
    p999_ms: float
    # How late the tool itself sent, at p99: its own share of the latencies above.
    send_lag_p99_ms: float
    send_lag_p50_ms: float
    achieved_rps: float
    non_2xx: int
    errors: int
    requests: int
    tool_cpu_seconds: float


def run_open_loop(
    url: str, headers: dict[str, str], *, rate: float, seconds: float, connections: int = 16
) -> OpenLoopResult:
    """Runs this tool in its own process, so it shares no GIL with the harness; its CPU is what
    it used between the first and last scheduled request (start-up excluded)."""
    argv = [sys.executable, "-m", "tests.bench.open_loop", url, "--rate", str(rate)]
    argv += ["--seconds", str(seconds), "--connections", str(connections)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    run = run_measured(argv, timeout=seconds + _DRAIN_SECONDS + 30)
    report = json.loads(run.output.strip().splitlines()[-1])
    latency = report["latency_ms"]
    return OpenLoopResult(
        p50_ms=latency["p50"],
        p99_ms=latency["p99"],
        p999_ms=latency["p99.9"],
        send_lag_p99_ms=report["send_lag_ms"]["p99"],
        send_lag_p50_ms=report["send_lag_ms"]["p50"],
        achieved_rps=report["achieved_rps"],
        non_2xx=report["non_2xx"],
        errors=report["errors"],
        requests=report["answered"],
        tool_cpu_seconds=report["cpu_seconds"],
    )


if __name__ == "__main__":
    main()

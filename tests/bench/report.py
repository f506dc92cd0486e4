"""Medians over the rounds, the two markdown tables, and the targets with PASS or MISS.

Targets are printed, never asserted: speed is measured by `make bench`, not by a test.
"""

import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tests.bench.setups import ROLES

UNAVAILABLE = "not available yet"

CLOSED_LOOP_NOTE = (
    "\nµs columns: CPU-µs per completed request (user + system, every thread) of each role. "
    "upstream is the direct-response Envoy all setups share; the load tool is wrk (wait4 "
    "rusage); xds_server is idle during the runs and not counted. non-2xx sums the rounds and "
    "includes requests that got no answer."
)
OPEN_LOOP_NOTE = (
    "Latency in ms from each request's scheduled send time (no coordinated omission); req/s "
    "below the rate means the setup could not keep up. send lag is how late the Python client "
    "itself took each request up (its own share of every latency: timer wake-ups on this "
    "machine); the tool floor is the client against the upstream Envoy directly. tool µs/req "
    "is the client's CPU over the run, start-up excluded."
)


@dataclass(frozen=True)
class Sample:
    """One closed-loop run of one setup."""

    rps: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx answers plus requests with no answer
    cpu_us: Mapping[str, float]  # CPU-µs per completed request, by role


@dataclass(frozen=True)
class OpenSample:
    """One open-loop run of one setup at a fixed rate."""

    achieved_rps: float  # below the rate when the setup could not keep up
    p50_ms: float
    p99_ms: float
    p999_ms: float
    send_lag_p50_ms: float
    send_lag_p99_ms: float
    failed: int
    cpu_us: Mapping[str, float]


@dataclass(frozen=True)
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    failed: int  # summed over the rounds: a median would hide them
    cpu_us: Mapping[str, float]  # median by role
    total_cpu_us: float  # median of each round's total, not the sum of the medians


@dataclass(frozen=True)
class OpenSummary:
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    send_lag_p50_ms: float
    send_lag_p99_ms: float
    failed: int
    tool_cpu_us: float
    total_cpu_us: float


def _median_by_role(samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    return {role: statistics.median(s.get(role, 0.0) for s in samples) for role in ROLES}


def summarize(samples: Sequence[Sample]) -> Summary:
    return Summary(
        rps=statistics.median(s.rps for s in samples),
        p50_ms=statistics.median(s.p50_ms for s in samples),
        p99_ms=statistics.median(s.p99_ms for s in samples),
        failed=sum(s.failed for s in samples),
        cpu_us=_median_by_role([s.cpu_us for s in samples]),
        total_cpu_us=statistics.median(sum(s.cpu_us.values()) for s in samples),
    )


def summarize_open(samples: Sequence[OpenSample]) -> OpenSummary:
    return OpenSummary(
        achieved_rps=statistics.median(s.achieved_rps for s in samples),
        p50_ms=statistics.median(s.p50_ms for s in samples),
        p99_ms=statistics.median(s.p99_ms for s in samples),
        p999_ms=statistics.median(s.p999_ms for s in samples),
        send_lag_p50_ms=statistics.median(s.send_lag_p50_ms for s in samples),
        send_lag_p99_ms=statistics.median(s.send_lag_p99_ms for s in samples),
        failed=sum(s.failed for s in samples),
        tool_cpu_us=statistics.median(s.cpu_us.get("load tool", 0.0) for s in samples),
        total_cpu_us=statistics.median(sum(s.cpu_us.values()) for s in samples),
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned numbers, widths fitted to the cells."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "| " + " | ".join([first, *rest]) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def closed_loop_table(results: Mapping[str, Summary | str], bare: str) -> str:
    header = ["setup", "req/s", "vs bare", "p50 ms", "p99 ms", "non-2xx"]
    header += [f"{role} µs" for role in ROLES] + ["all µs/req"]
    base = results[bare]
    rows = []
    for name, r in results.items():
        if isinstance(r, str):
            rows.append([name, r, *["-"] * (len(header) - 2)])
            continue
        ratio = f"{r.rps / base.rps:.1%}" if isinstance(base, Summary) else "-"
        cells = [name, f"{r.rps:.0f}", ratio, f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.failed)]
        cells += [f"{r.cpu_us[role]:.0f}" for role in ROLES] + [f"{r.total_cpu_us:.0f}"]
        rows.append(cells)
    return markdown_table(header, rows)


def open_loop_table(
    results: Mapping[str, OpenSummary | str], bare: str, compared: Collection[str]
) -> str:
    """`compared` rows get the added latency over bare; the others are reference points."""
    header = ["setup", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "added p50", "added p99"]
    header += ["send lag p50/p99", "non-2xx", "tool µs/req", "all µs/req"]
    base = results[bare]
    rows = []
    for name, r in results.items():
        if isinstance(r, str):
            rows.append([name, r, *["-"] * (len(header) - 2)])
            continue
        added = ["-", "-"]
        if isinstance(base, OpenSummary) and name in compared:
            added = [f"{r.p50_ms - base.p50_ms:+.3f}", f"{r.p99_ms - base.p99_ms:+.3f}"]
        cells = [name, f"{r.achieved_rps:.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}"]
        cells += [f"{r.p999_ms:.3f}", *added]
        lag = f"{r.send_lag_p50_ms:.3f}/{r.send_lag_p99_ms:.3f}"
        cells += [lag, str(r.failed), f"{r.tool_cpu_us:.0f}"]
        rows.append([*cells, f"{r.total_cpu_us:.0f}"])
    return markdown_table(header, rows)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def access_log_line(closed: Mapping[str, Summary | str], *, pipeline: str, logged: str) -> str:
    """The access log's price: under 10 % fewer requests per second than without it."""
    label = f"- {logged} vs {pipeline}: < 10 % fewer req/s"
    without, with_log = closed[pipeline], closed[logged]
    if not isinstance(without, Summary) or not isinstance(with_log, Summary):
        return f"{label}: NOT MEASURED ({UNAVAILABLE})"
    loss = 1 - with_log.rps / without.rps
    extra = with_log.total_cpu_us - without.total_cpu_us
    return f"{label}: {loss:.1%} fewer, {extra:+.0f} CPU-µs per request {_verdict(loss < 0.10)}"


def target_lines(
    closed: Mapping[str, Summary | str],
    opened: Mapping[str, OpenSummary | str],
    *,
    bare: str,
    pipeline: str,
    grpc_pipeline: str,
    rate: float,
) -> list[str]:
    """The issue's targets, each with the measured value; a setup not run is NOT MEASURED."""
    lines = []
    base, full, grpc = closed[bare], closed[pipeline], closed[grpc_pipeline]
    missing = f"NOT MEASURED ({UNAVAILABLE})"

    def share(row: Summary | str, floor: float, label: str) -> str:
        if not isinstance(row, Summary) or not isinstance(base, Summary):
            return f"- {label} >= {floor:.0%} of bare req/s: {missing}"
        ratio = row.rps / base.rps
        return f"- {label} >= {floor:.0%} of bare req/s: {ratio:.1%} {_verdict(ratio >= floor)}"

    lines.append(share(full, 0.40, pipeline))
    if isinstance(full, Summary):
        cpu = full.total_cpu_us
        lines.append(
            f"- {pipeline} <= 350 CPU-µs per request, all processes: {cpu:.0f} "
            + _verdict(cpu <= 350)
        )
    else:
        lines.append(f"- {pipeline} <= 350 CPU-µs per request, all processes: {missing}")
    lines.append(share(grpc, 0.20, grpc_pipeline))
    label = f"- added p99 at {rate:,.0f} req/s (open loop), {pipeline} vs bare <= 2 ms"
    open_base, open_full = opened[bare], opened[pipeline]
    if isinstance(open_full, OpenSummary) and isinstance(open_base, OpenSummary):
        added = open_full.p99_ms - open_base.p99_ms
        kept_up = open_full.achieved_rps >= 0.98 * rate
        note = "" if kept_up else f" (overloaded: answered {open_full.achieved_rps:.0f} req/s)"
        lines.append(f"{label}: {added:+.3f} ms {_verdict(added <= 2.0 and kept_up)}{note}")
    else:
        lines.append(f"{label}: {missing}")
    return lines

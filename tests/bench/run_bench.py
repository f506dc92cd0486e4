"""`make bench`: what decides the design, measured in one run as medians of interleaved rounds.

Setups: bare Envoy, the full pipeline on each ext_authz transport, and the two empty ext_authz
floors, all started once. Closed loop (wrk) gives req/s, latency and the CPU-µs per request of
every process; an open-loop client at a fixed rate gives the latency the pipeline adds. Then
the config-path targets: compiling 100,000 keys, a catalog change, ext_authz holding 1,000,000.
"""

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from extauthz.keys import issue_key
from tests.bench import callers, machine
from tests.bench.config_path import (
    measure_compile,
    measure_config_changes,
    measure_store_memory,
    rss_mb,
)
from tests.bench.cpu import Proc, cpu_by_role_during
from tests.bench.open_loop import run_open_loop
from tests.bench.pipeline import GRPC, HTTP, Pipeline, start_full_pipeline
from tests.bench.report import (
    CLOSED_LOOP_NOTE,
    OPEN_LOOP_NOTE,
    OpenSample,
    OpenSummary,
    Sample,
    Summary,
    access_log_line,
    closed_loop_table,
    open_loop_table,
    summarize,
    summarize_open,
    target_lines,
)
from tests.bench.setups import (
    LOAD_TOOL,
    PATH,
    SIDECAR,
    BenchContext,
    Target,
    start_bare,
    start_grpc_floor,
    start_http_floor,
    start_upstream,
)
from tests.bench.wrk import run_wrk

BARE = "bare"
FULL = "full pipeline"  # the default transport (HTTP): first among the pipelines
FULL_GRPC = "full pipeline (gRPC)"
FULL_LOGGED = "full pipeline + access log"  # HTTP, Envoy streaming every entry to the collector
HTTP_FLOOR = "empty HTTP ext_authz floor"
GRPC_FLOOR = "empty gRPC ext_authz floor"
TOOL_FLOOR = "upstream alone (tool floor)"  # the open-loop client's own share
FULL_JWT = "full pipeline, JWT caller"  # Tollgate's ES256 token, jwt_authn + the sidecar
# The same node, called with a key: what jwt_authn costs callers that send no token.
FULL_JWT_KEY = "full pipeline, JWT accepted, key caller"
# Over HTTPS through a TLS-terminating Envoy on the load tool's side (wrk has no client
# certificates): the key row is the one the mTLS row compares with.
FULL_HTTPS = "full pipeline, HTTPS, key caller"
FULL_MTLS = "full pipeline, HTTPS, mTLS caller"
# name -> (ext_authz transport, access log on, caller)
PIPELINES = {
    FULL: (HTTP, False, callers.KEY),
    FULL_LOGGED: (HTTP, True, callers.KEY),
    FULL_GRPC: (GRPC, False, callers.KEY),
    FULL_JWT: (HTTP, False, callers.JWT),
    FULL_HTTPS: (HTTP, False, callers.HTTPS_KEY),
    FULL_MTLS: (HTTP, False, callers.MTLS),
}
OPEN_LOOP = (TOOL_FLOOR, BARE, FULL, FULL_GRPC)  # the tool floor first, the rest as above


def _per_request(cpu: dict[str, float], requests: int) -> dict[str, float]:
    return {role: seconds * 1e6 / max(requests, 1) for role, seconds in cpu.items()}


def closed_loop(target: Target, upstream: Proc, args: argparse.Namespace) -> Sample:
    result, cpu = cpu_by_role_during(
        (*target.processes, upstream),
        lambda: run_wrk(target.url, target.headers, args.seconds, args.connections),
    )
    # wrk's own, plus the TLS client Envoy's of the HTTPS rows.
    cpu[LOAD_TOOL] = cpu.get(LOAD_TOOL, 0.0) + result.tool_cpu_seconds
    failed = result.non_2xx + result.errors
    return Sample(
        result.rps, result.p50_ms, result.p99_ms, failed, _per_request(cpu, result.requests)
    )


def open_loop(target: Target, upstream: Proc, args: argparse.Namespace) -> OpenSample:
    result, cpu = cpu_by_role_during(
        (*target.processes, upstream),
        lambda: run_open_loop(target.url, target.headers, rate=args.rate, seconds=args.seconds),
    )
    cpu[LOAD_TOOL] = result.tool_cpu_seconds
    return OpenSample(
        achieved_rps=result.achieved_rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        p999_ms=result.p999_ms,
        send_lag_p50_ms=result.send_lag_p50_ms,
        send_lag_p99_ms=result.send_lag_p99_ms,
        failed=result.non_2xx + result.errors,
        cpu_us=_per_request(cpu, result.requests),
    )


def _arguments() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=int(env("BENCH_SECONDS", "10")))
    parser.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", "3")))
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "32")))
    parser.add_argument(
        "--rate", type=float, default=float(env("BENCH_RATE", "1000")), help="open-loop req/s"
    )
    parser.add_argument(
        "--envoy-concurrency",
        type=int,
        default=int(env("BENCH_ENVOY_CONCURRENCY", "1")),
        help="worker threads of every gateway Envoy (the upstream Envoy keeps 1)",
    )
    parser.add_argument(
        "--keys", type=int, default=1_000_000, help="keys loaded into ext_authz for the memory row"
    )
    return parser.parse_args()


@dataclass
class Setups:
    """Everything started once and kept running across the rounds; a str is why a row is empty."""

    upstream: Proc
    closed: dict[str, Target | str] = field(default_factory=dict)
    opened: dict[str, Target | str] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)


def start_setups(ctx: BenchContext) -> Setups:
    upstream_port, upstream = start_upstream(ctx)
    setups = Setups(upstream)
    setups.closed[BARE] = start_bare(ctx, upstream_port)
    for name, (transport, access_log, caller) in PIPELINES.items():
        setups.pipelines[name] = start_full_pipeline(
            ctx, transport, upstream_port, access_log=access_log, caller=caller
        )
        setups.closed[name] = setups.pipelines[name].target
        if caller == callers.JWT:
            pipeline = setups.pipelines[name]
            setups.closed[FULL_JWT_KEY] = Target(
                pipeline.target.url, {"x-api-key": pipeline.secret}, pipeline.target.processes
            )
    floor_headers = {"x-api-key": issue_key().secret}  # any key: the floors allow all
    setups.closed[HTTP_FLOOR] = start_http_floor(ctx, upstream_port, floor_headers)
    setups.closed[GRPC_FLOOR] = start_grpc_floor(ctx, upstream_port, floor_headers)
    direct = Target(f"http://127.0.0.1:{upstream_port}{PATH}", {}, ())
    setups.opened = {TOOL_FLOOR: direct, **{n: setups.closed[n] for n in OPEN_LOOP[1:]}}
    return setups


def run_rounds(
    setups: Setups, args: argparse.Namespace
) -> tuple[dict[str, Summary | str], dict[str, OpenSummary | str]]:
    """Every setup once per round, in the same order, so a drift of the machine hits them all."""
    closed: dict[str, list[Sample]] = defaultdict(list)
    opened: dict[str, list[OpenSample]] = defaultdict(list)
    for round_number in range(1, args.rounds + 1):
        for name, target in setups.closed.items():
            if isinstance(target, Target):
                closed[name].append(closed_loop(target, setups.upstream, args))
        for name, target in setups.opened.items():
            if isinstance(target, Target):
                opened[name].append(open_loop(target, setups.upstream, args))
        print(f"round {round_number}/{args.rounds} done", file=sys.stderr)
    return (
        {n: summarize(closed[n]) if isinstance(t, Target) else t for n, t in setups.closed.items()},
        {
            n: summarize_open(opened[n]) if isinstance(t, Target) else t
            for n, t in setups.opened.items()
        },
    )


def measure_running_config_path(pipelines: dict[str, Pipeline]) -> list[str]:
    """Sidecar RSS and catalog-change times, on the first pipeline that runs."""
    if not pipelines:
        return ["no pipeline ran: no sidecar RSS, no config-change times"]
    source, config = next(iter(pipelines.items()))
    lines = [
        f"{p.name} RSS after the bench ({source}): {rss_mb(p.pid):.0f} MB"
        for p in config.target.processes
        if p.role == SIDECAR
    ]
    change_ms = measure_config_changes(
        config.rows, config.settings, config.snapshot_file, config.secret
    )
    lines.append(
        f"config change (new API) to serving through Envoy ({source}), ms: "
        + ", ".join(f"{ms:.0f}" for ms in change_ms)
        + " (the bench's file mode: xds_server re-reads the file every 0.2 s; through mgmt's"
        + " long poll it is measured after this table)"
    )
    return lines


def main() -> None:
    args = _arguments()
    ctx = BenchContext(Path(tempfile.mkdtemp(prefix="tollgate-bench-")), args.envoy_concurrency)
    try:
        setups = start_setups(ctx)
        machine_before = machine.sample(ctx.pids())
        closed, opened = run_rounds(setups, args)
        machine_line = machine.describe(machine_before, machine.sample(ctx.pids()))
        config_lines = measure_running_config_path(setups.pipelines)
    finally:
        ctx.stop_all()
    config_lines.append(f"compile a snapshot with 100,000 keys: {measure_compile(100_000):.2f} s")
    config_lines.append(
        f"extauthz store with {args.keys:,} keys: {measure_store_memory(args.keys)}"
    )

    print(
        f"\nwrk -t1 -c{args.connections} -d{args.seconds}s; {args.rounds} interleaved rounds, "
        f"medians; gateway Envoys --concurrency {args.envoy_concurrency}; "
        f"{os.cpu_count()} cores;\n{machine_line}\n"
    )
    print(closed_loop_table(closed, BARE))
    print(CLOSED_LOOP_NOTE)
    print(f"\nOpen loop: {args.rate:,.0f} req/s for {args.seconds}s. {OPEN_LOOP_NOTE}\n")
    print(open_loop_table(opened, BARE, compared=(FULL, FULL_GRPC)))
    print("\nTargets (measured, never asserted):")
    targets = target_lines(
        closed, opened, bare=BARE, pipeline=FULL, grpc_pipeline=FULL_GRPC, rate=args.rate
    )
    targets.append(access_log_line(closed, pipeline=FULL, logged=FULL_LOGGED))
    print("\n".join(targets))
    print()
    print("\n".join(config_lines))
    print(f"\nlogs and configs of every process: {ctx.run_dir}")


if __name__ == "__main__":
    main()

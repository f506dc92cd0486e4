"""The gateway keeps working on its last configuration when the control plane goes away."""

import os
import signal
import threading
import time

import pytest

from mgmt.gateway import services
from mgmt.gateway.models import Application
from tests.e2e.conftest import wait_until
from tests.e2e.http import request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Traffic(threading.Thread):
    """Sends requests back to back and keeps every status it saw."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.port, self.key = port, key
        self.statuses: list[int] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.statuses.append(request(self.port, "/demo/x", {"x-api-key": self.key}).status)
            except OSError:
                self.statuses.append(0)
            time.sleep(0.01)


def test_killing_xds_server_fails_no_request_and_a_restart_converges(gateway, scenario):
    traffic = Traffic(gateway.ports.gateway, scenario.demo_key)
    traffic.start()
    time.sleep(0.3)
    os.kill(gateway.xds.popen.pid, signal.SIGKILL)
    gateway.xds.popen.wait()
    gateway.group.children.remove(gateway.xds)
    time.sleep(1.5)

    # While it is down, mgmt keeps accepting changes; they wait for the restart.
    app = Application.objects.get(name="Demo app")
    new_key = services.create_api_key(application=app, label="issued while xds was down").secret
    assert request(gateway.ports.gateway, "/demo/x", {"x-api-key": new_key}).status == 401

    gateway.restart_xds()
    wait_until(
        lambda: request(gateway.ports.gateway, "/demo/x", {"x-api-key": new_key}).status == 200,
        timeout=10.0,
        what="extauthz converged on the newest snapshot after the xds_server restart",
    )
    traffic.stopped.set()
    traffic.join()
    assert len(traffic.statuses) > 20
    assert set(traffic.statuses) == {200}, (
        f"failed requests: {[s for s in traffic.statuses if s != 200][:10]}"
    )


def test_sidecar_down_fails_closed_with_503_problem(gateway, scenario):
    gateway.group.stop(gateway.extauthz)
    try:
        reply = request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key})
        assert reply.status == 503
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["type"] == "https://tollgate.dev/problems/authorization-unavailable"
        # An outage, said as one: not the sidecar's "no credentials yet".
        assert "could not reach its authorization service" in reply.json()["detail"]
    finally:
        gateway.restart_extauthz()
    wait_until(
        lambda: (
            request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key}).status
            == 200
        ),
        timeout=10.0,
        what="a restarted extauthz loads its credentials from xds_server",
    )

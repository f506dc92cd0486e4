"""`make run` supervises its children: under steady traffic, kill -9 of Django and xds_server
fails no request, both come back, and a change made while they were down reaches the gateway;
Envoy itself, killed, comes back on the same --base-id."""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.embedded_run import REPO, EmbeddedRun, embedded_run
from tests.e2e.http import request

pytestmark = [pytest.mark.e2e]

# Well over the demo plan's 10 requests a second, so most answers are a deliberate 429, and
# low enough for two shared CPUs. Anything but 200 or 429 counts as a failed request.
LOAD_PER_SECOND = 150
LOAD_THREADS = 3
ANSWERED = {200, 429}

CREATE_PROBE_KEY = """
from mgmt.gateway import services
from mgmt.gateway.models import Application
issued = services.create_api_key(
    application=Application.objects.get(name="Demo app"), label="outage probe"
)
print("KEY", issued.secret)
"""
# Booted before the kill, it waits for a line on stdin: the revocation is then written
# within milliseconds, while mgmt and xds_server are certainly down.
REVOKE_PROBE_KEY_ON_CUE = """
import sys
from mgmt.gateway import services
from mgmt.gateway.models import ApiKey
key = ApiKey.objects.get(label="outage probe")
print("READY", flush=True)
sys.stdin.readline()
services.revoke_api_key(api_key=key)
print("REVOKED", flush=True)
"""


class Load:
    """Paced requests with the demo key from a few threads; keeps (time, status) of each,
    0 for a connection error or a timeout."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.results: list[tuple[float, int]] = []
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, daemon=True) for _ in range(LOAD_THREADS)
        ]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(10)

    def _send(self) -> None:
        interval = LOAD_THREADS / LOAD_PER_SECOND
        next_at = time.monotonic()
        while not self.stopped.is_set():
            try:
                status = request(self.port, "/demo/x", {"x-api-key": self.key}, timeout=5).status
            except OSError:
                status = 0
            self.results.append((time.monotonic(), status))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def between(self, start: float, end: float) -> list[int]:
        return [status for at, status in list(self.results) if start <= at <= end]


def read_until(stream: IO[str], line: str) -> None:
    """Reads the shell's output up to `line` (Django's shell prints its own lines first)."""
    seen = []
    while (got := stream.readline()) != "":
        if got.strip() == line:
            return
        seen.append(got)
    raise AssertionError(f"no {line!r} from the shell: {''.join(seen)}")


def status_with(run: EmbeddedRun, key: str) -> int:
    return request(run.ports["gateway"], "/demo/x", {"x-api-key": key}, timeout=2).status


def listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def restarted(run: EmbeddedRun, name: str, old_pid: int) -> bool:
    pid_file = run.var_dir / "run" / f"{name}.pid"
    return pid_file.exists() and int(pid_file.read_text()) != old_pid


def assert_serves_from_its_own_state(run: EmbeddedRun) -> None:
    """`make run` as an operator starts it: serves the demo, keeps each child's pid in
    var/run, its own SQLite and its counters' append-only file in its own var dir."""
    key = run.demo_api_key()
    assert request(run.ports["gateway"], "/demo/hello", {"x-api-key": key}).status == 200
    assert request(run.ports["gateway"], "/demo/hello").status == 401
    pids = run.child_pids()
    expected = {"demo_upstream", "mgmt", "xds_server", "redis", "extauthz", "ratelimit"}
    assert expected | {"celery_worker", "celery_beat", "envoy-gateway-1"} <= set(pids)
    for name, pid in pids.items():
        os.kill(pid, 0)  # alive, and ours to signal
        assert run.child_pid(name) == pid
    assert (run.var_dir / "tollgate.sqlite3").stat().st_size > 0
    assert (run.var_dir / "redis" / "appendonly.aof").exists()
    # HTTPS out of the box: its local CA's certificate for localhost, served over SDS.
    context = ssl.create_default_context(cafile=str(run.var_dir / "tls" / "ca.pem"))
    conn = http.client.HTTPSConnection(
        "localhost", run.ports["gateway_https"], context=context, timeout=5
    )
    try:
        conn.request("GET", "/demo/hello", headers={"x-api-key": key})
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert oct((run.var_dir / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_killing_mgmt_and_xds_server_under_load_fails_nothing_and_converges(
    tmp_path: Path,
) -> None:
    with embedded_run(tmp_path) as run:
        assert_serves_from_its_own_state(run)
        created = run.manage("shell", "-c", CREATE_PROBE_KEY)
        assert created.returncode == 0, created.stderr
        probe_key = created.stdout.split("KEY ")[1].split()[0]
        wait_until(lambda: status_with(run, probe_key) in ANSWERED, 10, "the probe key is accepted")
        revoker = subprocess.Popen(
            [sys.executable, "-m", "mgmt.manage", "shell", "-c", REVOKE_PROBE_KEY_ON_CUE],
            env=run.env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert revoker.stdout is not None and revoker.stdin is not None
            read_until(revoker.stdout, "READY")
            old = {name: run.child_pid(name) for name in ("mgmt", "xds_server")}
            with Load(run.ports["gateway"], run.demo_api_key()) as load:
                time.sleep(2.0)
                killed_at = time.monotonic()
                for pid in old.values():
                    os.kill(pid, signal.SIGKILL)
                revoker.stdin.write("go\n")
                revoker.stdin.flush()
                read_until(revoker.stdout, "REVOKED")
                revoked_after = time.monotonic() - killed_at
                # Both are back: new pids, listening on their own ports again.
                wait_until(
                    lambda: (
                        all(restarted(run, name, pid) for name, pid in old.items())
                        and request(run.ports["mgmt"], "/admin/login/", timeout=2).status == 200
                        and listening(run.ports["xds"])
                    ),
                    30,
                    "mgmt and xds_server restarted",
                )
                restarted_at = time.monotonic()
                converge = wait_until(
                    lambda: status_with(run, probe_key) in {401, 403},
                    10,
                    "the key revoked during the outage is refused at the gateway",
                )
                time.sleep(1.0)
                end = time.monotonic()
            revoker.wait(30)
        finally:
            if revoker.poll() is None:
                revoker.kill()
                revoker.wait()
        during = load.between(killed_at, end)
        failed = [status for status in during if status not in ANSWERED]
        print(
            f"\nkill -9 mgmt + xds_server under {LOAD_PER_SECOND}/s: {len(during)} requests "
            f"sent from the kill to 1 s after convergence, {len(failed)} failed "
            f"({during.count(200)} x 200, {during.count(429)} x 429); revoked "
            f"{revoked_after:.2f}s after the kill; both restarted "
            f"{restarted_at - killed_at:.2f}s after the kill; revocation enforced "
            f"{converge:.2f}s after the restarts "
            f"({restarted_at + converge - killed_at:.2f}s after the kill)"
        )
        assert failed == [], f"failed requests: {failed[:20]}"
        assert revoked_after < restarted_at - killed_at  # written while they were down
        # The load was real, not a trickle: most of the paced requests of the whole window
        # were sent (a window's length depends on how fast the restarts were, not on us).
        assert len(during) > 0.8 * LOAD_PER_SECOND * (end - killed_at)
        assert during.count(200) > 0
        assert status_with(run, run.demo_api_key()) in ANSWERED
        output = run.runner_output()
        for name, old_pid in old.items():
            assert f"{name} (pid {old_pid}) died: killed by SIGKILL" in output
            assert f"{name} restarted (pid {run.child_pid(name)}, attempt 1)" in output

        # Envoy killed the same way comes back on its same --base-id and serves.
        envoy = run.child_pid("envoy-gateway-1")
        os.kill(envoy, signal.SIGKILL)
        back = wait_until(
            lambda: (
                restarted(run, "envoy-gateway-1", envoy)
                and status_with(run, run.demo_api_key()) in ANSWERED
            ),
            30,
            "Envoy restarted after kill -9 serves again",
        )
        print(f"Envoy killed with -9 served again after {back:.2f}s")
        assert run.process.poll() is None  # the stack itself never stopped
        process = run.process
    # Ctrl-C (the harness's SIGINT) ended the runner cleanly; the harness has checked that
    # every child it saw, first and restarted ones alike, is gone.
    assert process.returncode == 0
    assert not list((run.var_dir / "run").glob("*.pid"))

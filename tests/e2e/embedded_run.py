"""Runs the real `make run` (`python -m mgmt.manage run_embedded`) in a temporary var dir,
on free loopback ports and its own SQLite database, for end-to-end tests of the runner.

    with embedded_run(tmp_path) as run:
        request(run.ports["gateway"], "/demo/hello", {"x-api-key": run.demo_api_key()})
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mgmt.embedded.processes import end_process, free_port
from tests.e2e.http import request

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
READY_LINE = "Tollgate is running."

# Each port of the run, and the environment variable the runner reads it from.
PORT_VARIABLES = {
    "gateway": "TOLLGATE_GATEWAY_PORT",
    "gateway_https": "TOLLGATE_GATEWAY_HTTPS_PORT",
    "mgmt": "TOLLGATE_MGMT_PORT",
    "demo_upstream": "TOLLGATE_DEMO_UPSTREAM_PORT",
    "xds": "TOLLGATE_XDS_PORT",
    "extauthz": "TOLLGATE_EXTAUTHZ_PORT",
    "extauthz_http": "TOLLGATE_EXTAUTHZ_HTTP_PORT",
    "extauthz_metrics": "TOLLGATE_EXTAUTHZ_METRICS_PORT",
    "envoy_admin": "TOLLGATE_ENVOY_ADMIN_PORT",
    "ratelimit": "TOLLGATE_RATELIMIT_PORT",
    "ratelimit_metrics": "TOLLGATE_RATELIMIT_METRICS_PORT",
    "redis": "TOLLGATE_EMBEDDED_REDIS_PORT",
    "accesslog": "TOLLGATE_ACCESSLOG_PORT",
    "accesslog_metrics": "TOLLGATE_ACCESSLOG_METRICS_PORT",
    "xds_metrics": "TOLLGATE_XDS_METRICS_PORT",
}


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (None when gone or a zombie): tells a pid that was
    reused by another process apart from the one we knew."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


@dataclass
class EmbeddedRun:
    var_dir: Path
    ports: dict[str, int]
    env: dict[str, str]
    process: "subprocess.Popen[bytes]"
    # Every child process seen: (name, pid) -> start time; all must be gone at the end.
    known: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        """The runner's own stdout and stderr (each child logs in var_dir/logs/<name>.log)."""
        return self.var_dir / "runner.log"

    def runner_output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def demo_api_key(self) -> str:
        return (self.var_dir / "demo_api_key").read_text().strip()

    def manage(self, *args: str, input: str | None = None) -> "subprocess.CompletedProcess[str]":
        """`python -m mgmt.manage ...` on this run's own database, with the run's environment."""
        return subprocess.run(
            [sys.executable, "-m", "mgmt.manage", *args],
            env=self.env,
            cwd=REPO,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def child_pid(self, name: str) -> int:
        """The current pid of a named child, from the runner's var/run/<name>.pid."""
        pid = int((self.var_dir / "run" / f"{name}.pid").read_text())
        self._remember(name, pid)
        return pid

    def child_pids(self) -> dict[str, int]:
        """Every child's current pid."""
        pids = {}
        for pid_file in sorted((self.var_dir / "run").glob("*.pid")):
            with contextlib.suppress(OSError, ValueError):
                pids[pid_file.stem] = int(pid_file.read_text())
        for name, pid in pids.items():
            self._remember(name, pid)
        return pids

    def mgmt_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['mgmt']}"

    def gateway_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['gateway']}"

    def _remember(self, name: str, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            self.known.setdefault((name, pid), started)


def _free_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    for name in PORT_VARIABLES:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    return ports


def _runner_env(
    var_dir: Path, ports: Mapping[str, int], extra: Mapping[str, str]
) -> dict[str, str]:
    # No TOLLGATE_* setting of the test process (its PostgreSQL database, a shared cache,
    # tokens): the run is configured by its own defaults, these ports and `extra` only.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env.update({PORT_VARIABLES[name]: str(port) for name, port in ports.items()})
    env.update(
        {
            # TOLLGATE_DATABASE_URL unset: the run's SQLite file is var_dir/tollgate.sqlite3.
            "TOLLGATE_VAR_DIR": str(var_dir),
            "TOLLGATE_CELERY_BROKER_URL": f"redis://{LOOPBACK}:{ports['redis']}/1",
            "TOLLGATE_PUBLIC_URL": f"http://{LOOPBACK}:{ports['mgmt']}",
            "DJANGO_SETTINGS_MODULE": "mgmt.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _wait_until_ready(run: EmbeddedRun, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    printed = False
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            raise RuntimeError(
                f"the runner exited with {run.process.returncode}:\n{run.runner_output()[-4000:]}"
            )
        printed = printed or READY_LINE in run.runner_output()
        if printed:
            with contextlib.suppress(OSError):
                key = run.demo_api_key()
                reply = request(run.ports["gateway"], "/demo/hello", {"x-api-key": key}, timeout=2)
                if reply.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(
        f"the runner did not serve within {timeout}s:\n{run.runner_output()[-4000:]}"
    )


def _stop(run: EmbeddedRun, grace: float = 60.0) -> list[str]:
    """SIGINT (Ctrl-C) to the runner, then SIGKILL by pid; every child pid seen must be gone.
    Returns the children that outlived the runner (killed here by pid)."""
    run.child_pids()
    end_process(run.process, signal.SIGINT, grace)
    leftovers = []
    for (name, pid), started in run.known.items():
        if _start_time(pid) == started:
            leftovers.append(f"{name} (pid {pid})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return leftovers


@contextlib.contextmanager
def embedded_run(
    tmp_path: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> Iterator[EmbeddedRun]:
    """The real runner, serving: yields once the demo key answers 200 at the gateway."""
    var_dir = tmp_path / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    ports = _free_ports()
    run_env = _runner_env(var_dir, ports, env or {})
    with (var_dir / "runner.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mgmt.manage", "run_embedded"],
            env=run_env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the test's terminal does not reach it twice.
            start_new_session=True,
        )
    run = EmbeddedRun(var_dir, ports, run_env, process)
    try:
        _wait_until_ready(run, timeout)
        run.child_pids()
        yield run
    except BaseException:
        _stop(run)
        raise
    leftovers = _stop(run)
    if leftovers:
        raise AssertionError(f"still running after the runner stopped: {', '.join(leftovers)}")

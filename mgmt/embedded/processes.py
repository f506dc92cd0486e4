"""Starts child processes, waits for their ports, and stops every one of them by its id."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Listening ports are picked below the kernel's ephemeral range. A port picked inside it
# may be taken, between the pick and the bind, as some connection's source port; Envoy binds
# its gateway listener only when xDS delivers it, seconds later, and a listener that cannot
# bind is never retried: the whole gateway stays down (seen once in CI). Ports already handed
# out by this process are not handed out again.
_LOWEST_PICK = 10_000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the range the kernel gives to connections."""
    high = _ephemeral_low()
    if high - _LOWEST_PICK >= 1_000:
        for _ in range(200):
            port = random.randrange(_LOWEST_PICK, high)  # noqa: S311 (not a secret)
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout: float = 20.0, process: "Child | None" = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}: {process.tail()}"
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout}s")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, though not ours
    return True


def still_running(pid_dir: Path) -> dict[str, int]:
    """Children of an earlier run that are still alive (its runner was killed, say), by the
    pid files it left; files of dead ones are removed. A pid reused since is reported too:
    the operator reads the file named and decides."""
    running = {}
    for pid_file in sorted(pid_dir.glob("*.pid")):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid > 0 and alive(pid):
            running[pid_file.stem] = pid
        else:
            pid_file.unlink(missing_ok=True)
    return running


def end_process(
    popen: "subprocess.Popen[bytes]", first: signal.Signals, grace: float = 5.0
) -> None:
    """`first` to the process by its pid, then SIGKILL if it outlives `grace` seconds."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(popen.pid, first)
    try:
        popen.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(popen.pid, signal.SIGKILL)
        popen.wait()


@dataclass
class Child:
    name: str
    popen: "subprocess.Popen[bytes]"
    log_path: Path | None
    # The command exactly as first started (argv, the whole environment, cwd): a restart
    # runs it again, so a respawned child has the same ports, credentials and files.
    argv: tuple[str, ...] = ()
    # Holds tokens and secrets: never in a repr (a failing test prints its fixtures).
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: Path | None = None
    # When the current process was started (time.monotonic()), and how often it was respawned.
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0

    def tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ProcessGroup:
    """Children started together; `stop_all` ends each by pid (SIGTERM, then SIGKILL)."""

    log_dir: Path | None = None
    children: list[Child] = field(default_factory=list)
    # When set, each child's current pid is kept in `<pid_dir>/<name>.pid` (for operators
    # and tests); the file is replaced on a restart and removed when the child is stopped.
    pid_dir: Path | None = None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        full_env = {**os.environ, **(env or {})}
        log_path = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        popen = self._spawn(name, argv, full_env, cwd, log_path)
        child = Child(name, popen, log_path, tuple(argv), full_env, cwd)
        self.children.append(child)
        return child

    def restart(self, child: Child) -> Child:
        """Runs the child's command again, as first started; it keeps its place in the
        group, so `stop_all` still stops it in reverse order of the first start."""
        if child.popen.poll() is None:
            raise RuntimeError(f"{child.name} is still running (pid {child.popen.pid})")
        child.popen = self._spawn(child.name, child.argv, child.env, child.cwd, child.log_path)
        child.started_at = time.monotonic()
        child.restarts += 1
        return child

    def _spawn(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: Path | None,
        log_path: Path | None,
    ) -> "subprocess.Popen[bytes]":
        log_file: IO[bytes] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = log_path.open("ab")
        popen = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=log_file if log_file else None,
            stderr=subprocess.STDOUT if log_file else None,
            # Ctrl-C reaches the supervisor only; it stops the rest in order.
            start_new_session=True,
        )
        if log_file is not None:
            log_file.close()
        if self.pid_dir is not None:
            self.pid_dir.mkdir(parents=True, exist_ok=True)
            pid_file = self.pid_dir / f"{name}.pid"
            staged = pid_file.with_suffix(".pid.tmp")
            staged.write_text(f"{popen.pid}\n")
            staged.replace(pid_file)  # a reader never sees a half-written file
        return popen

    def python(
        self, name: str, module: str, *args: str, env: Mapping[str, str] | None = None
    ) -> Child:
        # Unbuffered: a child killed with -9 leaves its last lines in its log, for the restart
        # report, instead of in a lost buffer.
        env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        return self.start(name, [sys.executable, "-m", module, *args], env=env)

    def stop(self, child: Child, grace: float = 5.0) -> None:
        end_process(child.popen, signal.SIGTERM, grace)
        if child in self.children:
            self.children.remove(child)
        if self.pid_dir is not None:
            (self.pid_dir / f"{child.name}.pid").unlink(missing_ok=True)

    def stop_all(self, grace: float = 5.0) -> None:
        for child in reversed(list(self.children)):
            self.stop(child, grace)

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if c.popen.poll() is not None), None)

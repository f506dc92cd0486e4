"""Starts child processes, waits for their ports, and stops every one of them by its id."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port(host: str = "127.0.0.1") -> int:
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


@dataclass
class Child:
    name: str
    popen: "subprocess.Popen[bytes]"
    log_path: Path | None

    def tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ProcessGroup:
    """Children started together; `stop_all` ends each by pid (SIGTERM, then SIGKILL)."""

    log_dir: Path | None = None
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        log_file: IO[bytes] | None = None
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            log_file = log_path.open("ab")
        popen = subprocess.Popen(
            list(argv),
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=log_file if log_file else None,
            stderr=subprocess.STDOUT if log_file else None,
            # Ctrl-C reaches the supervisor only; it stops the rest in order.
            start_new_session=True,
        )
        if log_file is not None:
            log_file.close()
        child = Child(name, popen, log_path)
        self.children.append(child)
        return child

    def python(
        self, name: str, module: str, *args: str, env: Mapping[str, str] | None = None
    ) -> Child:
        return self.start(name, [sys.executable, "-m", module, *args], env=env)

    def stop(self, child: Child, grace: float = 5.0) -> None:
        if child.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.popen.pid, signal.SIGTERM)
            try:
                child.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.popen.pid, signal.SIGKILL)
                child.popen.wait()
        if child in self.children:
            self.children.remove(child)

    def stop_all(self, grace: float = 5.0) -> None:
        for child in reversed(list(self.children)):
            self.stop(child, grace)

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if c.popen.poll() is not None), None)

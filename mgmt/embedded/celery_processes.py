"""The Celery worker and beat as child processes: for `make run` and the worker tests."""

import time
from collections.abc import Mapping
from pathlib import Path

from mgmt.embedded.processes import Child, ProcessGroup

_CELERY = ("celery", "-A", "mgmt.celery_app")


def wait_for_worker(child: Child, timeout: float = 60.0) -> None:
    """Celery says "ready." once it consumes: only then is a queued task picked up at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.popen.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}: {child.tail()}")
        if " ready." in child.tail(200):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{child.name} was not ready within {timeout}s: {child.tail()}")


def start_celery_worker(
    group: ProcessGroup,
    *,
    env: Mapping[str, str] | None = None,
    name: str = "celery_worker",
    wait: bool = True,
) -> Child:
    """One worker process (solo pool): the jobs are few and mostly wait on the database and
    the mail server; more throughput is more workers, which claim rows and never collide."""
    child = group.python(
        name,
        *_CELERY,
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        f"--hostname={name}@%h",
        # Nothing here uses remote control or worker events; they cost a Redis connection each.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        env=env,
    )
    if wait:
        wait_for_worker(child)
    return child


def start_celery_beat(
    group: ProcessGroup, *, schedule_file: Path, env: Mapping[str, str] | None = None
) -> Child:
    """Beat sends the schedule in mgmt.celery_app; exactly one runs per deployment."""
    schedule_file.parent.mkdir(parents=True, exist_ok=True)
    return group.python(
        "celery_beat",
        *_CELERY,
        "beat",
        "--loglevel=INFO",
        f"--schedule={schedule_file}",
        env=env,
    )

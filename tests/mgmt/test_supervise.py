"""The supervisor over real child processes: a killed child comes back with its first command,
its pid file follows it, and a crash loop backs off instead of spinning."""

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mgmt.embedded.processes import ProcessGroup, still_running
from mgmt.embedded.supervise import supervise
from mgmt.embedded.supervisor import Backoff

SLEEPER = (
    "import os, sys, time; print(os.environ['MARK'], sys.argv[1:], flush=True); time.sleep(60)"
)


class Supervising:
    def __init__(self, group: ProcessGroup, backoff: Backoff) -> None:
        self.reports: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(
            target=supervise,
            args=(group,),
            kwargs={
                "stopping": self.stopped.is_set,
                "report": self.reports.append,
                "backoff": backoff,
                "poll": 0.02,
            },
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(log_dir=tmp_path / "logs", pid_dir=tmp_path / "run")
    try:
        yield group
    finally:
        group.stop_all()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


def test_a_killed_child_is_started_again_with_its_first_command(
    group: ProcessGroup, tmp_path: Path
) -> None:
    child = group.start(
        "sleeper", [sys.executable, "-c", SLEEPER, "--port", "4242"], env={"MARK": "first-env"}
    )
    pid_file = tmp_path / "run" / "sleeper.pid"
    first_pid = child.popen.pid
    assert int(pid_file.read_text()) == first_pid
    wait_for(lambda: "first-env" in child.tail())
    os.environ["MARK"] = "changed-since"  # a restart must not pick up the runner's later env
    try:
        supervising = Supervising(group, Backoff(first=0.05, cap=0.2, stable_after=60))
        os.kill(first_pid, signal.SIGKILL)
        wait_for(lambda: child.restarts == 1 and child.popen.poll() is None)
        wait_for(lambda: child.tail().count("first-env ['--port', '4242']") == 2)
        supervising.stop()
    finally:
        del os.environ["MARK"]
    assert child.popen.pid != first_pid
    assert int(pid_file.read_text()) == child.popen.pid
    assert group.children == [child]
    assert "first-env" not in repr(group)  # the environment (tokens) is never printed
    assert "sleeper" in supervising.reports[0]
    assert "killed by SIGKILL" in supervising.reports[0]
    assert "restart 1 in 0.05s" in supervising.reports[0]
    assert "first-env" in supervising.reports[0]  # the end of its log
    assert supervising.reports[1] == f"sleeper restarted (pid {child.popen.pid}, attempt 1)"
    group.stop_all()
    assert child.popen.returncode is not None
    assert not pid_file.exists()


def test_a_crash_loop_backs_off_up_to_the_cap(group: ProcessGroup) -> None:
    child = group.start("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"])
    supervising = Supervising(group, Backoff(first=0.05, factor=2.0, cap=0.2, stable_after=60))
    wait_for(lambda: child.restarts >= 5)
    supervising.stop()
    deaths = [r for r in supervising.reports if " died: " in r]
    assert all("exit code 3" in r for r in deaths)
    decisions = [re.search(r"restart (\d+) in ([\d.]+)s", r) for r in deaths[:5]]
    assert [(int(m[1]), float(m[2])) for m in decisions if m] == [
        (1, 0.05),
        (2, 0.1),
        (3, 0.2),
        (4, 0.2),
        (5, 0.2),
    ]


def test_nothing_is_restarted_once_stopping(group: ProcessGroup) -> None:
    child = group.start("sleeper", [sys.executable, "-c", SLEEPER], env={"MARK": "x"})
    supervising = Supervising(group, Backoff(first=0.05))
    supervising.stop()
    os.kill(child.popen.pid, signal.SIGKILL)
    child.popen.wait(5)
    time.sleep(0.2)
    assert child.restarts == 0
    assert supervising.reports == []


def test_an_earlier_runs_living_children_are_found_by_their_pid_files(
    group: ProcessGroup, tmp_path: Path
) -> None:
    living = group.start("sleeper", [sys.executable, "-c", SLEEPER], env={"MARK": "x"})
    dead = group.start("quitter", [sys.executable, "-c", "pass"])
    dead.popen.wait(10)
    run_dir = tmp_path / "run"
    (run_dir / "garbled.pid").write_text("not a pid")
    # As a runner killed with -9 leaves them: files kept, children (some) alive.
    assert still_running(run_dir) == {"sleeper": living.popen.pid}
    # The dead one's and the unreadable file are cleared; the living one's stays.
    assert sorted(f.name for f in run_dir.iterdir()) == ["sleeper.pid"]
    group.stop_all()
    assert still_running(run_dir) == {}


def test_make_run_refuses_to_start_over_an_earlier_runs_living_children(
    tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mgmt.pid").write_text(str(os.getpid()))  # alive: this very process
    (tmp_path / "run" / "redis.pid").write_text("999999999")  # long gone
    with pytest.raises(CommandError) as refused:
        call_command("run_embedded")
    assert f"mgmt (pid {os.getpid()})" in str(refused.value)
    assert "redis" not in str(refused.value)
    assert not (tmp_path / "logs").exists()  # refused before starting anything

"""`make run` itself, started as an operator starts it: serves the demo, keeps each child's
pid in var/run, uses its own database, and leaves no process behind on Ctrl-C."""

import os
from pathlib import Path

import pytest

from tests.e2e.embedded_run import _start_time, embedded_run
from tests.e2e.http import request

pytestmark = [pytest.mark.e2e]


def test_make_run_serves_keeps_pid_files_and_leaves_no_process_on_ctrl_c(tmp_path: Path) -> None:
    with embedded_run(tmp_path) as run:
        key = run.demo_api_key()
        assert request(run.ports["gateway"], "/demo/hello", {"x-api-key": key}).status == 200
        assert request(run.ports["gateway"], "/demo/hello").status == 401
        pids = run.child_pids()
        expected = {"demo_upstream", "mgmt", "xds_server", "redis", "extauthz", "ratelimit"}
        assert expected | {"celery_worker", "celery_beat", "envoy-gateway-1"} <= set(pids)
        for name, pid in pids.items():
            os.kill(pid, 0)  # alive, and ours to signal
            assert run.child_pid(name) == pid
        # Its own SQLite file in its own var dir, whatever the test process uses.
        assert (run.var_dir / "tollgate.sqlite3").stat().st_size > 0
        answer = run.manage(
            "shell",
            "-c",
            "from django.db import connection; print(connection.settings_dict['NAME'])",
        )
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.splitlines()[-1] == str(run.var_dir / "tollgate.sqlite3")
        # The counters' Redis keeps an append-only file in the run's own var dir.
        assert (run.var_dir / "redis" / "appendonly.aof").exists()
        process = run.process
    assert process.returncode == 0
    assert all(_start_time(pid) is None for pid in pids.values())
    assert not list((run.var_dir / "run").glob("*.pid"))

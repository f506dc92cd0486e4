"""`make run` keeps its data in SQLite: the analytics migrations apply there, and the fold,
its retention and the series read work on it too (in a child process, since this suite's
own database is PostgreSQL)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from accesslog.usage_keys import Dims
from tests.analytics.conftest import USAGE_REDIS_URL, UsageWriter

pytestmark = pytest.mark.redis

SCRIPT = """
import json, django
from datetime import timedelta
django.setup()
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0, interactive=False)
from mgmt.analytics import selectors, tasks
from mgmt.analytics.models import UsageDay, UsageHour, UsageMinute
first = tasks.fold.apply().result
again = tasks.fold.apply().result
tasks.retention.apply().get()
now = timezone.now()
series = selectors.series({"api_id": 1}, now - timedelta(days=2), now)
print(json.dumps({
    "engine": django.db.connection.vendor,
    "batches": [first["batches"], again["batches"]],
    "totals": [sum(m.objects.values_list("requests", flat=True))
               for m in (UsageMinute, UsageHour, UsageDay)],
    "series": sum(p.requests for p in series),
}))
"""


def test_the_fold_runs_on_sqlite(usage_redis: "redis.Redis", tmp_path: Path) -> None:
    writer = UsageWriter(usage_redis)
    minute = (int(time.time()) // 3600 - 2) * 60
    writer.add(minute, Dims(1, 1, 1, 4, "2xx"), n=7, histogram={40: 7})
    writer.add(minute + 1, Dims(1, 1, 2, 0, "4xx"), n=2)
    writer.cover(minute, "envoy-1", 60)

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "mgmt.settings",
            "TOLLGATE_VAR_DIR": str(tmp_path),
            "TOLLGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'tollgate.sqlite3'}",
            "TOLLGATE_ANALYTICS_REDIS_URL": USAGE_REDIS_URL,
        },
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "engine": "sqlite",
        "batches": [3, 0],
        "totals": [9, 9, 9],
        "series": 9,
    }
    assert writer.usage_keys() == []

"""The acceptance test: a real Celery worker SIGKILLed while its fold transaction is open
changes no count; the next run folds everything exactly once.

The doomed worker runs with TOLLGATE_ANALYTICS_TEST_PAUSE_FILE (mgmt.analytics.fold_store):
its first fold transaction writes its rows, creates that file and waits before committing,
which is when the test kills it.
"""

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from celery.result import AsyncResult
from django.conf import settings

from accesslog.usage_keys import Dims
from mgmt.analytics.claims import CLAIMED_KEY
from mgmt.analytics.fold_store import PAUSE_FILE_ENV
from mgmt.analytics.models import FoldBatch, UsageDay, UsageHour, UsageMinute
from mgmt.embedded.celery_processes import start_celery_worker
from mgmt.embedded.processes import Child, ProcessGroup
from tests.analytics.conftest import USAGE_REDIS_URL, UsageWriter

pytestmark = [
    pytest.mark.db,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]
FOLD = "tollgate.analytics.fold"


@dataclass
class Workers:
    group: ProcessGroup
    queue: str
    send: Callable[..., AsyncResult]  # type: ignore[type-arg]

    def start(self, name: str, **extra: str) -> Child:
        database = settings.DATABASES["default"]
        env = {
            "TOLLGATE_DATABASE_URL": (
                f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                f"{database['NAME']}"
            ),
            "TOLLGATE_CELERY_BROKER_URL": USAGE_REDIS_URL,
            "TOLLGATE_CELERY_RESULT_BACKEND": USAGE_REDIS_URL,
            "TOLLGATE_CELERY_QUEUE": self.queue,
            "TOLLGATE_ANALYTICS_REDIS_URL": USAGE_REDIS_URL,
            # Redelivers the killed worker's unacknowledged task to the next worker soon.
            "TOLLGATE_CELERY_VISIBILITY_TIMEOUT": "2",
            **extra,
        }
        return start_celery_worker(self.group, env=env, name=name)

    def fold(self, timeout: float = 120) -> dict[str, Any]:
        report = self.send(FOLD).get(timeout=timeout)
        assert isinstance(report, dict)
        return report


@pytest.fixture
def workers(tmp_path: Path, usage_redis: "redis.Redis") -> Iterator[Workers]:
    queue = f"tollgate-test-{uuid.uuid4().hex[:12]}"
    # A client app of its own: the shared one may have cached another broker or backend.
    client = Celery("tollgate-fold-test", broker=USAGE_REDIS_URL, backend=USAGE_REDIS_URL)

    def send(name: str, **options: Any) -> AsyncResult:  # type: ignore[type-arg]
        return client.send_task(name, queue=queue, ignore_result=False, **options)

    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        yield Workers(group, queue, send)
    finally:
        group.stop_all()
        client.close()
        _forget_queue(usage_redis, queue)


def _forget_queue(server: "redis.Redis", queue: str) -> None:
    server.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, payload in server.hscan_iter("unacked"):
        if queue.encode() in payload:
            server.hdel("unacked", tag)
            server.zrem("unacked_index", tag)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


def _totals() -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        sum(model.objects.values_list("requests", flat=True))
        for model in (UsageMinute, UsageHour, UsageDay)
    )


def test_a_worker_killed_inside_its_fold_transaction_changes_no_count(
    workers: Workers, usage_redis: "redis.Redis", tmp_path: Path
) -> None:
    writer = UsageWriter(usage_redis)
    first = (int(time.time()) // 3600 - 2) * 60
    expected = 0
    for offset in range(5):
        for route in (1, 2, 3):
            writer.add(first + offset, Dims(1, 1, route, 4, "2xx"), n=10 * offset + route)
            expected += 10 * offset + route
    paused = tmp_path / "paused"
    doomed = workers.start("fold_doomed", **{PAUSE_FILE_ENV: str(paused)})
    workers.send(FOLD)
    _wait(paused.exists, "the doomed worker's transaction is open")

    # Its transaction holds rows written but not committed: nothing shows yet.
    assert FoldBatch.objects.count() == 0
    doomed.popen.send_signal(signal.SIGKILL)
    doomed.popen.wait(10)
    assert _totals() == (0, 0, 0)
    assert usage_redis.scard(CLAIMED_KEY) == 1  # the claimed minute, left behind

    workers.start("fold_b")
    workers.fold()
    # One worker takes tasks in order: the killed worker's redelivered run, if it came
    # first, has finished by now, and a second run finds nothing left.
    assert workers.fold()["batches"] == 0

    assert _totals() == (expected, expected, expected)
    assert FoldBatch.objects.count() == 5
    assert writer.usage_keys() == []

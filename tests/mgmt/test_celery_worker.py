"""The deprecation job on a real Celery worker, through the machine's Redis: run twice, and
killed mid-run. Exactly one retirement, one snapshot, each notice exactly once."""

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from celery.result import AsyncResult
from django.conf import settings
from django.utils import timezone

from mgmt.embedded.celery_processes import start_celery_worker
from mgmt.embedded.processes import Child, ProcessGroup
from mgmt.gateway.models import ApiVersion, LifecycleEvent, LifecycleNotice, Snapshot
from tests.mgmt.lifecycle_world import LifecycleWorld, deprecated, lifecycle_world
from tests.mgmt.outbox_mail import outbox

pytestmark = [
    pytest.mark.db,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]
MACHINE_REDIS = "redis://127.0.0.1:6379/0"
JOB = "tollgate.lifecycle.deprecation_job"


@dataclass
class Workers:
    group: ProcessGroup
    queue: str
    outbox_path: Path
    send: Callable[..., AsyncResult]  # type: ignore[type-arg]

    def env(self, **extra: str) -> dict[str, str]:
        database = settings.DATABASES["default"]
        return {
            "TOLLGATE_DATABASE_URL": (
                f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                f"{database['NAME']}"
            ),
            "TOLLGATE_CELERY_BROKER_URL": MACHINE_REDIS,
            "TOLLGATE_CELERY_RESULT_BACKEND": MACHINE_REDIS,
            "TOLLGATE_CELERY_QUEUE": self.queue,
            "TOLLGATE_EMAIL_BACKEND": "tests.mgmt.outbox_mail.OutboxBackend",
            "TOLLGATE_TEST_OUTBOX": str(self.outbox_path),
            # A dead worker's claim is released by the next run rather than 15 minutes later.
            "TOLLGATE_NOTICE_CLAIM_TIMEOUT_SECONDS": "1",
            "TOLLGATE_NOTICE_RETRY_QUIET_SECONDS": "0",
            # Redelivers the killed worker's unacknowledged task to the next worker soon.
            "TOLLGATE_CELERY_VISIBILITY_TIMEOUT": "2",
            **extra,
        }

    def start(self, name: str, **extra: str) -> Child:
        return start_celery_worker(self.group, env=self.env(**extra), name=name)

    def run_job(self, timeout: float = 60) -> dict[str, Any]:
        """Queue the job and wait for its report."""
        result = self.send(JOB, kwargs={"as_of": timezone.now().isoformat()})
        report = result.get(timeout=timeout)
        assert isinstance(report, dict)
        return report


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    try:
        redis.Redis.from_url(MACHINE_REDIS, socket_timeout=1).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {MACHINE_REDIS} is required for the worker tests: {error}")
    queue = f"tollgate-test-{uuid.uuid4().hex[:12]}"
    # A client app of its own: the shared one may have cached another broker or backend
    # (any test that queued a task in this process).
    client = Celery("tollgate-worker-test", broker=MACHINE_REDIS, backend=MACHINE_REDIS)

    def send(name: str, **options: Any) -> AsyncResult:  # type: ignore[type-arg]
        return client.send_task(name, queue=queue, ignore_result=False, **options)

    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        yield Workers(group, queue, tmp_path / "outbox.jsonl", send)
    finally:
        group.stop_all()
        client.close()
        _forget_queue(redis.Redis.from_url(MACHINE_REDIS), queue)


def _forget_queue(server: "redis.Redis[bytes]", queue: str) -> None:
    """Leaves the machine's Redis as it was: the queue, its bindings, its unacked messages."""
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


def _due_world(subscribers: int) -> LifecycleWorld:
    world = lifecycle_world(subscribers=subscribers)
    now = timezone.now()
    deprecated(world, sunset_at=now - timedelta(minutes=1), now=now - timedelta(days=30))
    return world


def _published() -> int:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).count()


def _assert_exactly_once(world: LifecycleWorld, workers: Workers, snapshots_before: int) -> None:
    world.v1.refresh_from_db()
    assert world.v1.lifecycle == ApiVersion.Lifecycle.RETIRED
    assert LifecycleEvent.objects.filter(api_version=world.v1, to_state="retired").count() == 1
    assert _published() == snapshots_before + 1
    notices = LifecycleNotice.objects.filter(api_version=world.v1)
    assert {n.state for n in notices} == {"sent"}
    sent = [line["message_id"] for line in outbox(workers.outbox_path)]
    assert sorted(sent) == sorted(n.message_id for n in notices)
    assert {line["to"] for line in outbox(workers.outbox_path)} == {
        a.notice_recipient() for a in world.subscribers
    }


def test_the_job_run_twice_retires_once_publishes_once_and_notifies_once(
    workers: Workers,
) -> None:
    world = _due_world(subscribers=3)
    before = _published()
    workers.start("worker_a")

    first = workers.run_job()
    _wait(lambda: len(outbox(workers.outbox_path)) == 3, "three retirement notices sent")
    second = workers.run_job()
    # One worker takes tasks in order: a third report means the second run's work is done.
    workers.run_job()

    assert first["retired"] == ["Payments v1"] and first["sendable"] == 3
    assert second == {**second, "retired": [], "sendable": 0}
    _assert_exactly_once(world, workers, before)


def test_a_worker_killed_while_mailing_loses_and_duplicates_nothing(workers: Workers) -> None:
    world = _due_world(subscribers=3)
    before = _published()
    doomed = workers.start("worker_doomed", TOLLGATE_TEST_HANG_AT_MESSAGE="2")
    workers.send(JOB, kwargs={"as_of": timezone.now().isoformat()})
    hanging = workers.outbox_path.with_suffix(".hanging")
    _wait(hanging.exists, "the worker reached the second notice")

    doomed.popen.send_signal(signal.SIGKILL)
    doomed.popen.wait(10)
    assert len(outbox(workers.outbox_path)) == 1
    assert LifecycleNotice.objects.filter(state="sending").count() == 1

    workers.start("worker_b")
    time.sleep(1.1)  # past the claim timeout the next run releases the dead worker's claim
    report = workers.run_job()
    assert report["retired"] == []
    _wait(lambda: len(outbox(workers.outbox_path)) == 3, "the other two notices sent")
    workers.run_job()  # and anything the killed worker left behind has run by now

    _assert_exactly_once(world, workers, before)

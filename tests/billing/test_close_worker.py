"""Exactly once with real Celery workers: a worker SIGKILLed while its close transaction
is open commits nothing; the next worker closes the period once, with the same total, one
invoice number and one event id."""

import signal
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings

from mgmt.billing.close import PAUSE_FILE_ENV
from mgmt.billing.meter_fold import fold_meters
from mgmt.billing.models import BillingPeriod, DocumentSequence, Invoice, WebhookEvent
from mgmt.billing.pricing import price_period
from mgmt.embedded.celery_processes import start_celery_worker
from mgmt.embedded.processes import Child, ProcessGroup
from tests.billing.conftest import STARTED, priced_world

pytestmark = [
    pytest.mark.db,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]
METER = "tollgate.billing.meter"


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


def test_a_worker_killed_mid_close_commits_nothing_and_the_next_closes_once(
    counters: "redis.Redis", tmp_path: Path
) -> None:
    url = settings.TOLLGATE_COUNTERS_REDIS_URL
    world = priced_world()
    world.count(counters, 4321, STARTED + timedelta(days=1))
    fold_meters(STARTED + timedelta(days=1))
    after = (BillingPeriod.objects.get().ends_at + timedelta(minutes=2)).isoformat()

    queue = f"tollgate-billing-test-{uuid.uuid4().hex[:12]}"
    client = Celery("tollgate-billing-test", broker=url, backend=url)
    database = settings.DATABASES["default"]
    env = {
        "TOLLGATE_DATABASE_URL": (
            f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "TOLLGATE_CELERY_BROKER_URL": url,
        "TOLLGATE_CELERY_RESULT_BACKEND": url,
        "TOLLGATE_CELERY_QUEUE": queue,
        "TOLLGATE_COUNTERS_REDIS_URL": url,
        # Redelivers the killed worker's unacknowledged task to the next worker soon.
        "TOLLGATE_CELERY_VISIBILITY_TIMEOUT": "2",
    }
    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        paused = tmp_path / "paused"
        doomed: Child = start_celery_worker(
            group, env={**env, PAUSE_FILE_ENV: str(paused)}, name="billing_doomed"
        )
        client.send_task(METER, kwargs={"now": after}, queue=queue)
        _wait(paused.exists, "the doomed worker's close transaction is open")
        doomed.popen.send_signal(signal.SIGKILL)
        doomed.popen.wait(10)
        # Nothing of its close was committed: no number taken, no event, still a draft.
        assert Invoice.objects.get(period__index=0).state == Invoice.State.DRAFT
        assert not DocumentSequence.objects.exists() and not WebhookEvent.objects.exists()

        start_celery_worker(group, env=env, name="billing_b")
        reports = [
            client.send_task(METER, kwargs={"now": after}, queue=queue, ignore_result=False).get(
                timeout=120
            )
            for _ in range(2)
        ]
        assert sum(r["closed"] for r in reports) <= 1
    finally:
        group.stop_all()
        client.close()

    invoice = Invoice.objects.get(period__index=0)
    assert invoice.state == Invoice.State.FINALIZED
    assert (invoice.units, invoice.sequence) == (4321, 1)
    assert invoice.total == price_period(world.price.as_price(), 4321).total
    assert WebhookEvent.objects.filter(type="invoice.finalized").count() == 1
    assert DocumentSequence.objects.get().next_value == 2

"""The long-polled snapshot endpoint: a request holding the latest version is answered when a
newer snapshot is published (in this process, or in another one through PostgreSQL's NOTIFY),
or with 304 once its wait has run out."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from mgmt.gateway import publishing, snapshot_feed
from mgmt.gateway.models import Api, Snapshot
from tests.e2e.conftest import wait_until
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]

SNAPSHOT_URL = "/internal/xds/snapshot"


def _get(version: str, wait: float | str) -> tuple[int, str, float]:
    """One held request, as xds_server makes it: status, ETag and seconds taken."""
    started = time.monotonic()
    try:
        response = Client().get(
            SNAPSHOT_URL,
            {"wait": wait},
            HTTP_AUTHORIZATION=f"Bearer {settings.TOLLGATE_INTERNAL_TOKEN}",
            HTTP_IF_NONE_MATCH=f'"{version}"',
        )
    finally:
        connections.close_all()  # this thread's: the test database is dropped at the end
    return response.status_code, response.get("ETag", ""), time.monotonic() - started


def _held(pool: ThreadPoolExecutor, version: str, wait: float) -> Future[tuple[int, str, float]]:
    """A request that is waiting in the feed when this returns."""
    before = snapshot_feed.feed.waiting
    pending = pool.submit(_get, version, wait)
    wait_until(lambda: snapshot_feed.feed.waiting > before, timeout=10, what="the request is held")
    return pending


def _move_api_quietly(base_path: str) -> None:
    """A committed change of the compiled routes that publishes nothing by itself (update()
    sends no signals)."""
    assert Api.objects.update(base_path=base_path) == 1


@pytest.fixture
def published() -> str:
    factories.catalog()
    snapshot = publishing.publish_snapshot()
    assert snapshot.status == "published"
    return snapshot.version


@pytest.fixture
def listening() -> Iterator[None]:
    """This process's listener, connected (waiters then re-read the database every 5 s)."""
    if connection.vendor != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; SQLite's single Django announces in-process")
    snapshot_feed.recheck_seconds()
    wait_until(
        lambda: snapshot_feed.recheck_seconds() == snapshot_feed.RECHECK_LISTENING,
        timeout=10,
        what="LISTEN",
    )
    yield


def test_a_held_request_is_answered_with_the_snapshot_published_meanwhile(published):
    with ThreadPoolExecutor(1) as pool:
        pending = _held(pool, published, wait=20)
        _move_api_quietly("/moved")
        newer = publishing.publish_snapshot()
        status, etag, took = pending.result(timeout=30)
    assert newer.version != published
    assert (status, etag) == (200, f'"{newer.version}"')
    print(f"\npublished -> held request answered: {took:.3f}s of its 20 s wait")


def test_a_snapshot_stored_by_other_code_wakes_held_requests_too(published, monkeypatch):
    """Not only the publisher's: any published row announces itself on commit."""
    monkeypatch.setattr(snapshot_feed, "RECHECK_LISTENING", 60.0)
    monkeypatch.setattr(snapshot_feed, "RECHECK_UNHEARD", 60.0)
    with ThreadPoolExecutor(1) as pool:
        pending = _held(pool, published, wait=20)
        stored = Snapshot.objects.create(
            version="stored-by-hand", status=Snapshot.Status.PUBLISHED, payload=b""
        )
        status, etag, took = pending.result(timeout=30)
    assert (status, etag) == (200, f'"{stored.version}"')
    assert took < 15, "woken by the row's announcement, not by the end of its 20 s wait"


def test_a_stopping_process_answers_its_held_requests_at_once(published, monkeypatch):
    monkeypatch.setattr(snapshot_feed, "feed", snapshot_feed.PublicationFeed())
    with ThreadPoolExecutor(1) as pool:
        pending = _held(pool, published, wait=20)
        snapshot_feed.feed.close()
        status, etag, took = pending.result(timeout=30)
    assert (status, etag) == (304, f'"{published}"')
    assert took < 15, "answered on closing, not at the end of its 20 s wait"


def test_a_held_request_with_nothing_new_is_304_after_its_wait(published):
    status, etag, took = _get(published, 0.5)
    assert (status, etag) == (304, f'"{published}"')
    assert took >= 0.5


def test_a_caller_behind_gets_the_latest_at_once_whatever_its_wait(published):
    _move_api_quietly("/moved")
    newer = publishing.publish_snapshot()
    status, etag, took = _get(published, 30)
    assert (status, etag) == (200, f'"{newer.version}"')
    assert took < 15  # never held: it would have taken the full 30 s


@pytest.mark.parametrize("wait", ["soon", "-1", "30.5", "nan", "inf"])
def test_a_bad_wait_is_a_400_problem(published, wait):
    response = Client().get(
        SNAPSHOT_URL,
        {"wait": wait},
        HTTP_AUTHORIZATION=f"Bearer {settings.TOLLGATE_INTERNAL_TOKEN}",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "wait must be" in response.json()["detail"]


def test_a_publication_by_another_process_wakes_held_requests_through_notify(
    published, listening, monkeypatch
):
    # Without the notification, the request would sleep past its whole wait.
    monkeypatch.setattr(snapshot_feed, "RECHECK_LISTENING", 60.0)
    _move_api_quietly("/moved-elsewhere")
    env = {
        **os.environ,
        "TOLLGATE_DATABASE_URL": (
            f"postgresql://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}"
            f":{connection.settings_dict['PORT']}/{connection.settings_dict['NAME']}"
        ),
    }
    publish = "from mgmt.gateway import publishing; print(publishing.publish_snapshot().version)"
    with ThreadPoolExecutor(1) as pool:
        pending = _held(pool, published, wait=20)
        worker = subprocess.run(
            [sys.executable, "-m", "mgmt.manage", "shell", "-c", publish],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        status, etag, took = pending.result(timeout=30)
    newer = worker.stdout.strip().splitlines()[-1]
    assert newer != published
    assert (status, etag) == (200, f'"{newer}"')
    assert took < 15, "woken by the notification, not by the end of its 20 s wait"


def test_the_listener_reconnects_when_its_connection_is_cut(listening):
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    ) as admin:
        before = snapshot_feed.feed.generation()
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = %s",
            [snapshot_feed.APPLICATION_NAME, db["NAME"]],
        ).fetchall()
        assert cut == [(True,)]
        # Cut off, then back: it announces on reconnecting (waiters re-read what it missed).
        wait_until(
            lambda: (
                snapshot_feed.feed.generation() > before
                and snapshot_feed.recheck_seconds() == snapshot_feed.RECHECK_LISTENING
            ),
            timeout=10,
            what="LISTEN again",
        )
        woken = threading.Event()
        generation = snapshot_feed.feed.generation()
        waiter = threading.Thread(
            target=lambda: woken.set() if snapshot_feed.feed.wait_past(generation, 10) else None
        )
        waiter.start()
        admin.execute("SELECT pg_notify(%s, '')", [snapshot_feed.CHANNEL])
        waiter.join()
    assert woken.is_set()

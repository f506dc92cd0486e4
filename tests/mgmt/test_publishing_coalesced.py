"""Coalesced publication on PostgreSQL with real threads: a burst of commits shares a few
snapshots, each committer returns only once a snapshot covers its commit, and the last
snapshot always holds the last commit."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from mgmt.compiler.compile import compile_snapshot
from mgmt.gateway import publishing, selectors
from mgmt.gateway.models import Application, Snapshot
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]

GAP_MS = 300


@pytest.fixture(autouse=True)
def _gap(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TOLLGATE_PUBLISH_GAP_MS = GAP_MS


def _current_version() -> str:
    """The version the rows in the database compile to now."""
    compiled = compile_snapshot(
        selectors.current_rows(), selectors.gateway_settings(), int(time.time())
    )
    assert compiled.snapshot is not None, compiled.errors
    return compiled.snapshot.version


def _latest_version() -> str:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).latest().version


def _in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as error:  # reported by the test, not lost in a thread
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return failures


def test_a_burst_of_concurrent_commits_shares_a_few_snapshots_and_the_last_holds_them_all(
    publish_calls: list[Snapshot],
):
    organization = factories.organization()
    time.sleep(GAP_MS / 1000)  # a quiet gateway: the burst starts with a leading publication
    before = Snapshot.objects.count()
    publish_calls.clear()
    covered: dict[int, str] = {}

    def commit(index: int) -> None:
        with publishing.tracking() as found:
            Application.objects.create(organization=organization, name=f"burst {index}")
        (snapshot,) = found
        # What this committer was answered already holds its own application.
        covered[index] = snapshot.version

    assert _in_threads(12, commit) == []

    published = Snapshot.objects.count() - before
    # A leading publication, and one more per gap while commits keep arriving: twelve
    # commits that arrive together fit in the leading one and at most two more, and the
    # rows are compiled no more often than that (not once per commit).
    assert 1 <= published <= len(publish_calls) <= 3
    assert len(covered) == 12
    assert _latest_version() == _current_version()
    assert Application.objects.filter(name__startswith="burst").count() == 12


def test_a_commit_inside_the_gap_returns_only_once_a_snapshot_holds_it():
    organization = factories.organization()
    first = Application.objects.create(organization=organization, name="first")
    published_first = _latest_version()

    started = time.monotonic()
    second = Application.objects.create(organization=organization, name="second")
    waited = time.monotonic() - started

    # It waited out the gap after the first publication, and the newest snapshot, stored
    # before create() returned, holds the second application as well as the first.
    assert waited >= GAP_MS / 1000 * 0.5
    assert _latest_version() != published_first
    assert _latest_version() == _current_version()
    assert {first.pk, second.pk} <= set(Application.objects.values_list("pk", flat=True))


def test_writers_in_many_threads_for_a_while_publish_at_most_once_per_gap():
    organization = factories.organization()
    before = Snapshot.objects.count()
    started = time.monotonic()

    def churn(index: int) -> None:
        for round_ in range(6):
            app = Application.objects.create(organization=organization, name=f"w{index}-{round_}")
            app.delete()

    assert _in_threads(4, churn) == []
    elapsed = time.monotonic() - started

    published = Snapshot.objects.count() - before
    assert published <= 1 + elapsed / (GAP_MS / 1000) + 1
    assert published < 4 * 6 * 2  # fewer snapshots than commits
    assert _latest_version() == _current_version()
    assert not Application.objects.filter(organization=organization).exists()

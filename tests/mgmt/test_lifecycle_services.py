"""Lifecycle transitions through the services: validated, audited, published once."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mgmt.gateway import deprecation_job, lifecycle
from mgmt.gateway.lifecycle import Actor
from mgmt.gateway.models import ApiVersion, LifecycleEvent, LifecycleNotice, Snapshot
from tests.mgmt import factories
from tests.mgmt.lifecycle_world import deprecated, lifecycle_world

# Publication runs in on_commit hooks: these tests commit for real.
pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]
OWNER = Actor(None, "alice")
DAY = timedelta(days=1)


def _published_count() -> int:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).count()


def test_publishing_a_draft_records_who_and_when() -> None:
    draft = factories.api_version(lifecycle=ApiVersion.Lifecycle.DRAFT)
    now = timezone.now().replace(microsecond=0)
    version = lifecycle.publish_version(version=draft, actor=OWNER, reason="ready", now=now)
    assert version.lifecycle == "published"
    assert version.published_at == now
    event = LifecycleEvent.objects.get(api_version=version)
    assert (event.from_state, event.to_state, event.actor_label, event.reason, event.at) == (
        "draft",
        "published",
        "alice",
        "ready",
        now,
    )


def test_deprecating_sets_the_dates_and_successor_and_publishes_a_snapshot() -> None:
    world = lifecycle_world()
    before = _published_count()
    now = timezone.now().replace(microsecond=0)
    sunset = now + 30 * DAY
    version = lifecycle.deprecate_version(
        version=world.v1,
        actor=OWNER,
        sunset_at=sunset,
        successor=world.v2,
        changelog_url="https://docs.example.test/changes",
        reason="v2 is out",
        now=now,
    )
    assert (version.lifecycle, version.deprecated_at, version.sunset_at, version.successor) == (
        "deprecated",
        now,
        sunset,
        world.v2,
    )
    assert version.changelog_url == "https://docs.example.test/changes"
    event = LifecycleEvent.objects.get(api_version=version)
    assert event.details["successor"] == "Payments v2"
    assert event.details["sunset_at"] == sunset.isoformat()
    assert _published_count() == before + 1


def test_rescheduling_keeps_the_first_deprecation_date() -> None:
    world = lifecycle_world()
    now = timezone.now().replace(microsecond=0)
    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=now + 30 * DAY, now=now)
    later = now + DAY
    version = lifecycle.deprecate_version(
        version=world.v1, actor=OWNER, sunset_at=now + 60 * DAY, reason="partners asked", now=later
    )
    assert version.deprecated_at == now
    assert version.sunset_at == now + 60 * DAY
    assert LifecycleEvent.objects.filter(api_version=version).count() == 2


def test_invalid_deprecation_changes_nothing_and_names_the_fields() -> None:
    world = lifecycle_world()
    other_api_version = factories.api_version()
    with pytest.raises(ValidationError) as caught:
        lifecycle.deprecate_version(
            version=world.v1,
            actor=OWNER,
            sunset_at=timezone.now() - DAY,
            successor=other_api_version,
        )
    assert set(caught.value.message_dict) == {"sunset_at", "successor"}
    world.v1.refresh_from_db()
    assert world.v1.lifecycle == "published"
    assert not LifecycleEvent.objects.exists()


def test_calling_off_a_deprecation_clears_its_dates() -> None:
    world = lifecycle_world()
    now = timezone.now().replace(microsecond=0)
    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=now + 9 * DAY, now=now)
    version = lifecycle.publish_version(version=world.v1, actor=OWNER, reason="v2 slipped")
    assert (version.lifecycle, version.deprecated_at, version.sunset_at) == (
        "published",
        None,
        None,
    )


def test_a_forced_retirement_moves_the_sunset_to_now_and_notifies_subscribers() -> None:
    world = lifecycle_world(subscribers=2)
    now = timezone.now().replace(microsecond=0)
    deprecated(world, sunset_at=now + 30 * DAY, now=now - DAY)
    version = lifecycle.retire_version(
        version=world.v1, actor=OWNER, force=True, reason="security flaw", now=now
    )
    assert (version.lifecycle, version.retired_at, version.sunset_at) == ("retired", now, now)
    event = LifecycleEvent.objects.get(api_version=version)
    assert event.forced and event.reason == "security flaw"
    notices = LifecycleNotice.objects.filter(api_version=version, kind="retired")
    assert sorted(n.application_id for n in notices) == sorted(a.pk for a in world.subscribers)


def test_a_version_that_is_another_ones_successor_is_not_retired() -> None:
    world = lifecycle_world()
    now = timezone.now().replace(microsecond=0)
    deprecated(world, sunset_at=now + DAY, now=now)
    ApiVersion.objects.filter(pk=world.v2.pk).update(
        lifecycle="deprecated", deprecated_at=now, sunset_at=now + DAY
    )
    with pytest.raises(ValidationError, match="successor of Payments v1"):
        lifecycle.retire_version(version=world.v2, actor=OWNER, now=now + 2 * DAY)


def test_the_job_retires_each_version_past_its_sunset_exactly_once() -> None:
    world = lifecycle_world(subscribers=3)
    now = timezone.now().replace(microsecond=0)
    deprecated(world, sunset_at=now - timedelta(minutes=5), now=now - 40 * DAY)
    before = _published_count()

    first = deprecation_job.run(now=now)
    second = deprecation_job.run(now=now)

    assert first.retired == ("Payments v1",) and second.retired == ()
    world.v1.refresh_from_db()
    assert world.v1.lifecycle == "retired"
    assert LifecycleEvent.objects.filter(api_version=world.v1, to_state="retired").count() == 1
    assert _published_count() == before + 1
    assert LifecycleNotice.objects.filter(kind="retired").count() == 3
    # The second run hands back the same unsent notices; nothing new was planned.
    assert first.sendable == second.sendable


def test_the_job_leaves_versions_before_their_sunset_alone() -> None:
    world = lifecycle_world()
    now = timezone.now().replace(microsecond=0)
    deprecated(world, sunset_at=now + timedelta(minutes=5), now=now)
    report = deprecation_job.run(now=now)
    assert report.retired == ()
    world.v1.refresh_from_db()
    assert world.v1.lifecycle == "deprecated"


def test_the_job_reports_a_due_version_it_may_not_retire() -> None:
    world = lifecycle_world()
    now = timezone.now().replace(microsecond=0)
    deprecated(world, sunset_at=now + DAY, now=now)
    ApiVersion.objects.filter(pk=world.v2.pk).update(
        lifecycle="deprecated", deprecated_at=now, sunset_at=now + timedelta(hours=1)
    )
    report = deprecation_job.run(now=now + timedelta(hours=2))
    assert report.retired == ()
    assert report.not_retired == (
        "Payments v2: Payments v2 is the successor of Payments v1; "
        "name another successor for them first",
    )


def test_the_job_publishes_a_retirement_that_was_committed_but_never_published() -> None:
    world = lifecycle_world()
    now = timezone.now().replace(microsecond=0)
    deprecated(world, sunset_at=now + DAY, now=now)
    # As a worker killed between the commit and its on-commit publication leaves it.
    ApiVersion.objects.filter(pk=world.v1.pk).update(lifecycle="retired", retired_at=now)
    before = _published_count()
    deprecation_job.run(now=now)
    assert _published_count() == before + 1
    deprecation_job.run(now=now)
    assert _published_count() == before + 1

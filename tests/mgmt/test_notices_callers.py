"""Notices reach the real callers: the subscribed applications that called the version in
the last TOLLGATE_NOTICE_CALLER_DAYS days (from the usage rollups), every subscriber when
no usage was recorded, and the deprecation itself announced once."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from mgmt.analytics import callers
from mgmt.analytics.models import Coverage, UsageDay, UsageHour, UsageMinute
from mgmt.gateway import deprecation_job, lifecycle, notices, usage
from mgmt.gateway.lifecycle import Actor
from mgmt.gateway.models import ApiVersion, LifecycleNotice
from tests.mgmt.lifecycle_world import (
    LifecycleWorld,
    called,
    deprecated,
    lifecycle_world,
    minute_of,
    recorded,
)

pytestmark = [pytest.mark.db, pytest.mark.django_db]
DAY = timedelta(days=1)
OWNER = Actor(None, "owner")
UTC_ZONE = ZoneInfo("UTC")


def _now() -> datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def world() -> LifecycleWorld:
    """Three subscribers: 0 called v1 ten days ago, 1 called it today (only minute rows so
    far), 2 called only v2. Usage is recorded since 20 days ago."""
    world = lifecycle_world(subscribers=3)
    now = _now()
    recorded(now - 20 * DAY)
    first, second, third = world.subscribers
    called(UsageDay, world.v1, first.pk, at=now - 10 * DAY)
    called(UsageMinute, world.v1, second.pk, at=now - timedelta(minutes=5))
    called(UsageHour, world.v2, third.pk, at=now - timedelta(hours=2))
    called(UsageDay, world.v1, 0, at=now - DAY)  # 401s: no application
    called(UsageDay, world.v1, world.outsider.pk, at=now - DAY)  # not subscribed any more
    return world


def _told(version: ApiVersion, kind: str) -> set[int]:
    return set(
        LifecycleNotice.objects.filter(api_version=version, kind=kind).values_list(
            "application_id", flat=True
        )
    )


def test_of_three_subscribers_only_the_two_that_called_the_deprecated_version_are_told(
    world: LifecycleWorld,
) -> None:
    first, second, _ = world.subscribers

    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=_now() + 90 * DAY)

    assert _told(world.v1, "deprecated") == {first.pk, second.pk}
    audience = usage.audience(world.v1)
    assert audience.by_usage
    assert [a.pk for a in audience.applications] == [first.pk, second.pk]


def test_a_caller_with_no_address_gets_a_flagged_row_not_a_mail(world: LifecycleWorld) -> None:
    silent = world.subscribers[1]
    silent.organization.contact_email = ""
    silent.organization.save()

    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=None)

    notice = LifecycleNotice.objects.get(application=silent, kind="deprecated")
    assert (notice.state, notice.recipient) == ("no_recipient", "")
    assert notice.pk not in notices.sendable_ids(now=_now(), quiet_period=timedelta(0))
    assert [a.pk for a in usage.audience(world.v1).unreachable] == [silent.pk]


def test_a_call_before_the_window_does_not_make_a_caller(
    world: LifecycleWorld, settings: Any
) -> None:
    old = world.subscribers[2]
    called(UsageDay, world.v1, old.pk, at=_now() - 45 * DAY)
    assert old not in usage.audience(world.v1).applications

    settings.TOLLGATE_NOTICE_CALLER_DAYS = 60
    assert old in usage.audience(world.v1).applications


def test_retirement_notices_go_to_the_callers_only(world: LifecycleWorld) -> None:
    first, second, _ = world.subscribers
    lifecycle.retire_version(version=world.v1, actor=OWNER, force=True, reason="flaw")
    assert _told(world.v1, "retired") == {first.pk, second.pk}


def test_without_recorded_usage_every_subscriber_is_told_and_the_reason_is_given() -> None:
    world = lifecycle_world(subscribers=3)
    now = _now()
    # Rows without coverage in the window: the collector has not run for 40 days.
    Coverage.objects.create(bucket=minute_of(now - 40 * DAY), node="gw-1", seconds=60)
    called(UsageDay, world.v1, world.subscribers[0].pk, at=now - 40 * DAY)

    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=now + 90 * DAY)

    assert _told(world.v1, "deprecated") == {a.pk for a in world.subscribers}
    audience = usage.audience(world.v1)
    assert not audience.by_usage
    assert "No usage was recorded in the last 30 days" in audience.basis()


def test_usage_recorded_for_part_of_the_window_says_since_when() -> None:
    world = lifecycle_world(subscribers=1)
    since = minute_of(_now() - 3 * DAY)
    recorded(since)
    audience = usage.audience(world.v1)
    assert audience.by_usage and audience.partial
    assert f"recorded only since {since:%Y-%m-%d %H:%M} UTC" in audience.basis()


def test_day_rows_older_than_the_pruned_coverage_show_usage_was_recorded_then(
    world: LifecycleWorld,
) -> None:
    Coverage.objects.all().delete()
    recorded(_now() - 3 * DAY)  # coverage goes with the minute rows; day rows stay
    audience = usage.audience(world.v1)
    assert audience.recorded_since == callers.start_of_day(_now() - 10 * DAY)
    assert audience.partial
    called(UsageDay, world.v2, world.subscribers[2].pk, at=_now() - 30 * DAY)
    assert not usage.audience(world.v1).partial


def test_the_deprecation_is_announced_once_however_often_the_job_runs(
    world: LifecycleWorld,
) -> None:
    now = _now()
    deprecated(world, sunset_at=now + 90 * DAY, now=now - timedelta(hours=1))  # no notice yet

    first = deprecation_job.run(now=now)
    second = deprecation_job.run(now=now)

    announced = LifecycleNotice.objects.filter(kind="deprecated")
    assert sorted(announced.values_list("application_id", flat=True)) == sorted(
        a.pk for a in world.subscribers[:2]
    )
    assert first.recent_deprecations == second.recent_deprecations == 1
    assert sorted(first.sendable) == sorted(second.sendable) == sorted(n.pk for n in announced)
    for notice_id in first.sendable:
        notice = notices.claim(notice_id, now=now)
        assert notice is not None
        notices.deliver(notice, now=now, zone=UTC_ZONE, max_attempts=3)
    third = deprecation_job.run(now=now + timedelta(minutes=15))
    assert third.sendable == ()
    assert announced.count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == [
        "partner0@example.test",
        "partner1@example.test",
    ]


def test_a_deprecation_made_in_the_service_is_not_announced_again_by_the_job(
    world: LifecycleWorld,
) -> None:
    now = _now()
    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=now + 90 * DAY, now=now)
    planned = set(LifecycleNotice.objects.values_list("id", flat=True))
    deprecation_job.run(now=now)
    deprecation_job.run(now=now + timedelta(minutes=15))
    assert set(LifecycleNotice.objects.values_list("id", flat=True)) == planned


def test_a_reschedule_announces_nothing_again(world: LifecycleWorld) -> None:
    now = _now()
    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=now + 90 * DAY, now=now)
    lifecycle.deprecate_version(
        version=world.v1, actor=OWNER, sunset_at=now + 120 * DAY, now=now + DAY
    )
    assert LifecycleNotice.objects.filter(kind="deprecated").count() == 2


def test_a_deprecation_dated_later_is_announced_when_it_takes_effect(
    world: LifecycleWorld,
) -> None:
    now = _now()
    lifecycle.deprecate_version(
        version=world.v1,
        actor=OWNER,
        sunset_at=now + 90 * DAY,
        deprecated_at=now + DAY,
        now=now,
    )
    assert not LifecycleNotice.objects.exists()
    assert deprecation_job.run(now=now + DAY / 2).recent_deprecations == 0
    assert deprecation_job.run(now=now + 2 * DAY).recent_deprecations == 1
    assert LifecycleNotice.objects.filter(kind="deprecated").count() == 2


def test_a_deprecation_long_past_is_not_announced_by_the_job(world: LifecycleWorld) -> None:
    now = _now()
    deprecated(world, sunset_at=now + 90 * DAY, now=now - notices.ANNOUNCE_WITHIN - DAY)
    deprecation_job.run(now=now)
    assert not LifecycleNotice.objects.filter(kind="deprecated").exists()


def test_a_reminder_due_when_the_deprecation_was_announced_is_not_sent_on_top(
    world: LifecycleWorld,
) -> None:
    now = _now()
    sunset = now + 5 * DAY
    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=sunset, now=now)

    notices.plan_reminders(now=now, lead_days=(30, 7, 1), zone=UTC_ZONE)
    reminders = LifecycleNotice.objects.filter(kind="reminder")
    assert set(reminders.values_list("state", flat=True)) == {"superseded"}

    notices.plan_reminders(now=sunset - DAY, lead_days=(30, 7, 1), zone=UTC_ZONE)
    pending = reminders.filter(state="pending")
    assert sorted(pending.values_list("lead_days", flat=True)) == [1, 1]


def test_the_deprecation_mail_gives_the_sunset_successor_and_changelog(
    world: LifecycleWorld,
) -> None:
    sunset = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)
    lifecycle.deprecate_version(
        version=world.v1,
        actor=OWNER,
        sunset_at=sunset,
        successor=world.v2,
        changelog_url="https://docs.example.test/v2",
    )
    notice = LifecycleNotice.objects.filter(kind="deprecated", state="pending").first()
    assert notice is not None
    claimed = notices.claim(notice.pk, now=_now())
    assert claimed is not None

    assert notices.deliver(claimed, now=_now(), zone=UTC_ZONE, max_attempts=3).sent

    (message,) = mail.outbox
    assert message.subject == "Payments v1 is deprecated and will be retired on 14 March 2031"
    body = str(message.body)
    assert "2031-03-14 09:00 UTC" in body
    assert "Please move to v2, served under /payments/v2." in body
    assert "https://docs.example.test/v2" in body


def test_a_deprecation_without_a_sunset_says_no_date_is_set(world: LifecycleWorld) -> None:
    lifecycle.deprecate_version(version=world.v1, actor=OWNER, sunset_at=None)
    notice = LifecycleNotice.objects.filter(kind="deprecated", state="pending").first()
    assert notice is not None and notice.sunset_at is None
    claimed = notices.claim(notice.pk, now=_now())
    assert claimed is not None

    notices.deliver(claimed, now=_now(), zone=UTC_ZONE, max_attempts=3)

    (message,) = mail.outbox
    assert message.subject == "Payments v1 is deprecated"
    assert "No retirement date is set yet" in str(message.body)

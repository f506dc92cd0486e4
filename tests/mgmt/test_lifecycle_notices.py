"""Notices to subscribed applications' owners: planned once, sent once, retried with bounds
when the mail server is down, never lost."""

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import Envelope, Session
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from mgmt.gateway import notices
from mgmt.gateway.models import LifecycleNotice
from tests.mgmt import factories
from tests.mgmt.lifecycle_world import LifecycleWorld, deprecated, lifecycle_world

pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]
LEADS = (30, 7, 1)
DAY = timedelta(days=1)
SUNSET = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)


def _plan(now: datetime) -> int:
    return notices.plan_reminders(now=now, lead_days=LEADS, zone=ZoneInfo("UTC"))


def _states(world: LifecycleWorld) -> dict[tuple[int, int], str]:
    return {
        (n.application_id, n.lead_days): n.state
        for n in LifecycleNotice.objects.filter(api_version=world.v1)
    }


def _send(notice_id: int, max_attempts: int = 3) -> notices.Delivery | None:
    notice = notices.claim(notice_id, now=timezone.now())
    if notice is None:
        return None
    return notices.deliver(
        notice, now=timezone.now(), zone=ZoneInfo("Europe/Berlin"), max_attempts=max_attempts
    )


@pytest.fixture
def world() -> LifecycleWorld:
    world = lifecycle_world(subscribers=2)
    deprecated(world, sunset_at=SUNSET, now=SUNSET - 60 * DAY)
    return world


def test_no_reminder_is_planned_before_the_first_lead_time(world: LifecycleWorld) -> None:
    assert _plan(SUNSET - 31 * DAY) == 0
    assert not LifecycleNotice.objects.exists()


def test_the_nearest_due_reminder_is_planned_for_each_subscribed_application(
    world: LifecycleWorld,
) -> None:
    assert _plan(SUNSET - 5 * DAY) == 1
    apps = [a.pk for a in world.subscribers]
    assert _states(world) == {
        **{(app, 7): "pending" for app in apps},
        **{(app, 30): "superseded" for app in apps},
    }
    recipients = set(LifecycleNotice.objects.values_list("recipient", flat=True))
    assert recipients == {"partner0@example.test", "partner1@example.test"}


def test_planning_twice_plans_nothing_more(world: LifecycleWorld) -> None:
    _plan(SUNSET - 5 * DAY)
    _plan(SUNSET - 5 * DAY)
    assert LifecycleNotice.objects.count() == 4


def test_a_sent_reminder_stays_sent_when_a_nearer_one_falls_due(world: LifecycleWorld) -> None:
    _plan(SUNSET - 10 * DAY)
    for notice_id in LifecycleNotice.objects.values_list("id", flat=True):
        assert _send(notice_id) is not None
    _plan(SUNSET - 12 * 3600 * timedelta(seconds=1))
    app = world.subscribers[0].pk
    assert _states(world)[(app, 30)] == "sent"
    assert _states(world)[(app, 7)] == "superseded"
    assert _states(world)[(app, 1)] == "pending"


def test_an_application_without_a_contact_address_is_recorded_not_mailed(
    world: LifecycleWorld,
) -> None:
    silent = factories.application(organization=factories.organization())
    factories.subscription(application=silent, plan=world.plan)
    _plan(SUNSET - DAY)
    notice = LifecycleNotice.objects.get(application=silent, lead_days=1)
    assert notice.state == "no_recipient"
    assert (
        notices.sendable_ids(now=SUNSET, quiet_period=timedelta(minutes=10)).count(notice.pk) == 0
    )


def test_the_application_contact_overrides_the_organization(world: LifecycleWorld) -> None:
    app = world.subscribers[0]
    app.contact_email = "api-team@partner.test"
    app.save()
    _plan(SUNSET - DAY)
    assert LifecycleNotice.objects.get(application=app, lead_days=1).recipient == (
        "api-team@partner.test"
    )


def test_a_reminder_is_mailed_once_with_the_dates_successor_and_changelog(
    world: LifecycleWorld,
) -> None:
    _plan(SUNSET - 5 * DAY)
    notice = LifecycleNotice.objects.get(application=world.subscribers[0], state="pending")

    assert _send(notice.pk) == notices.Delivery(notice.pk, sent=True)
    assert _send(notice.pk) is None  # a second task finds it sent

    (message,) = mail.outbox
    assert message.to == ["partner0@example.test"]
    assert message.subject == "Payments v1 will be retired on 31 December 2026 (7 days left)"
    assert message.extra_headers["Message-ID"] == f"<lifecycle-notice-{notice.pk}@tollgate>"
    body = str(message.body)
    assert "Thursday 31 December 2026, 10:00 (Europe/Berlin)" in body
    assert "2026-12-31 09:00 UTC" in body
    assert "Please move to v2, served under /payments/v2." in body
    assert "https://docs.example.test/payments/v2-migration" in body
    assert "under /payments/v1 will get 410 Gone" in body
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == ("sent", 1)
    assert notice.sent_at is not None


def test_a_dead_workers_claim_is_released_after_the_timeout(world: LifecycleWorld) -> None:
    _plan(SUNSET - 5 * DAY)
    notice = LifecycleNotice.objects.filter(state="pending").first()
    assert notice is not None
    claimed_at = timezone.now()
    assert notices.claim(notice.pk, now=claimed_at) is not None  # ...and the worker dies
    timeout = timedelta(minutes=15)
    assert notices.release_stale_claims(now=claimed_at + timeout / 2, claim_timeout=timeout) == 0
    assert notices.release_stale_claims(now=claimed_at + 2 * timeout, claim_timeout=timeout) == 1
    assert _send(notice.pk) is not None
    assert len(mail.outbox) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Recorder(Sink):
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_port() -> int:
    return _closed_port()


@pytest.fixture
def smtp_settings(smtp_port: int) -> Iterator[None]:
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=smtp_port,
        EMAIL_TIMEOUT=2,
    ):
        yield


def test_a_mail_server_that_is_down_leaves_the_notice_pending_until_it_is_back(
    world: LifecycleWorld, smtp_settings: None, smtp_port: int
) -> None:
    _plan(SUNSET - 5 * DAY)
    notice = LifecycleNotice.objects.filter(state="pending").first()
    assert notice is not None

    failed = _send(notice.pk)
    assert failed is not None and not failed.sent and failed.retry
    assert "ConnectionRefusedError" in failed.error
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == ("pending", 1)
    assert "Connection refused" in notice.last_error

    recorder = _Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert _send(notice.pk) == notices.Delivery(notice.pk, sent=True)
        assert _send(notice.pk) is None
    finally:
        controller.stop()
    (received,) = recorder.messages
    assert received["To"] == notice.recipient
    assert received["Message-ID"] == notice.message_id
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.last_error) == ("sent", 2, "")


def test_attempts_are_bounded_then_the_notice_is_failed_and_can_be_retried(
    world: LifecycleWorld, smtp_settings: None
) -> None:
    _plan(SUNSET - 5 * DAY)
    notice = LifecycleNotice.objects.filter(state="pending").first()
    assert notice is not None
    outcomes = [_send(notice.pk, max_attempts=3) for _ in range(4)]
    assert [o.retry if o else None for o in outcomes] == [True, True, False, None]
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == ("failed", 3)
    assert notices.sendable_ids(now=timezone.now() + DAY, quiet_period=timedelta(0)) == [
        n
        for n in notices.sendable_ids(now=timezone.now() + DAY, quiet_period=timedelta(0))
        if n != notice.pk
    ]

    assert notices.requeue_failed([notice.pk]) == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == ("pending", 0)

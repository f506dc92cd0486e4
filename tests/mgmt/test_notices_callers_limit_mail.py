"""Requests for higher limits are mailed: to the API owner when a partner asks, to the
partner when the owner decides, each exactly once, and never with a secret in them."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from mgmt.developers import access
from mgmt.gateway import services
from mgmt.gateway.models import LimitRequest, Subscription
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]
Commits = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def subscription() -> Subscription:
    owner = factories.organization(name="Acme APIs", contact_email="apis@acme.test")
    plan = factories.plan(product=factories.product(organization=owner, name="Payments"))
    partner = factories.organization(name="Globex", contact_email="team@globex.test")
    application = factories.application(organization=partner, name="Checkout")
    return factories.subscription(application=application, plan=plan)


@pytest.fixture
def partner() -> User:
    return User.objects.create_user("dev@globex.test", email="dev@globex.test")


def _ask(subscription: Subscription, partner: User, commits: Commits) -> LimitRequest:
    with commits(execute=True):
        return access.request_limits(
            subscription=subscription,
            by=partner,
            windows=[{"requests": 50, "unit": "second"}],
            quota_requests=None,
            reason="a launch on Monday",
        )


def _decide(limit_request: LimitRequest, commits: Commits, *, approve: bool) -> bool:
    with commits(execute=True):
        return access.decide_limit_request(
            limit_request=limit_request, approve=approve, by=None, note="enjoy the launch"
        )


def test_asking_mails_the_api_owner_once_with_what_was_asked_and_where_to_decide(
    subscription: Subscription, partner: User, django_capture_on_commit_callbacks: Commits
) -> None:
    asked = _ask(subscription, partner, django_capture_on_commit_callbacks)

    (message,) = mail.outbox
    assert message.to == ["apis@acme.test"]
    assert message.subject == "Globex asks for higher limits on Payments"
    body = str(message.body)
    assert "50 per 1 second" in body
    assert "a launch on Monday" in body
    assert reverse("admin:gateway_limitrequest_change", args=[asked.pk]) in body


def test_the_decision_is_mailed_to_the_partner_once(
    subscription: Subscription, partner: User, django_capture_on_commit_callbacks: Commits
) -> None:
    asked = _ask(subscription, partner, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    assert _decide(asked, django_capture_on_commit_callbacks, approve=True)
    assert not _decide(asked, django_capture_on_commit_callbacks, approve=True)
    assert not _decide(asked, django_capture_on_commit_callbacks, approve=False)

    (message,) = mail.outbox
    assert message.to == ["dev@globex.test"]
    assert message.subject == "Your request for higher limits on Payments was approved"
    assert "enjoy the launch" in str(message.body)
    assert f"/subscriptions/{subscription.pk}" in str(message.body)


def test_a_declined_request_says_so_and_keeps_the_limits(
    subscription: Subscription, partner: User, django_capture_on_commit_callbacks: Commits
) -> None:
    asked = _ask(subscription, partner, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    _decide(asked, django_capture_on_commit_callbacks, approve=False)

    (message,) = mail.outbox
    assert message.subject == "Your request for higher limits on Payments was declined"
    assert "the subscription keeps its limits" in str(message.body)


def test_a_withdrawn_request_mails_nobody_when_an_owner_acts_on_it_later(
    subscription: Subscription, partner: User, django_capture_on_commit_callbacks: Commits
) -> None:
    asked = _ask(subscription, partner, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    access.withdraw_limit_request(limit_request=asked)

    assert not _decide(asked, django_capture_on_commit_callbacks, approve=True)
    assert mail.outbox == []


def test_the_partner_is_told_at_the_applications_address_when_its_account_is_gone(
    subscription: Subscription, partner: User, django_capture_on_commit_callbacks: Commits
) -> None:
    asked = _ask(subscription, partner, django_capture_on_commit_callbacks)
    partner.delete()
    mail.outbox.clear()

    _decide(LimitRequest.objects.get(pk=asked.pk), django_capture_on_commit_callbacks, approve=True)

    assert [m.to for m in mail.outbox] == [["team@globex.test"]]


def test_an_owner_without_an_address_is_logged_not_mailed(
    subscription: Subscription,
    partner: User,
    django_capture_on_commit_callbacks: Commits,
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscription.product.organization.contact_email = ""
    subscription.product.organization.save()

    _ask(subscription, partner, django_capture_on_commit_callbacks)

    assert mail.outbox == []
    assert "Acme APIs has no contact address" in caplog.text


def test_no_mail_carries_a_key_or_token(
    subscription: Subscription, partner: User, django_capture_on_commit_callbacks: Commits
) -> None:
    issued = services.create_api_key(application=subscription.application, label="prod")
    asked = _ask(subscription, partner, django_capture_on_commit_callbacks)
    _decide(asked, django_capture_on_commit_callbacks, approve=True)

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        assert issued.secret not in text
        assert issued.api_key.key_id not in text
        assert "tgp_" not in text  # no developer-API token either

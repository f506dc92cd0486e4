"""Accounts in the portal: sign-up, the mailed confirmation code, log-in (and where it
goes next), a new link on request, and the attempt budgets of sign-up and log-in."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.portal.conftest import PASSWORD, Tenant, mailed_code

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def test_sign_up_then_the_mailed_link_then_log_in(django_capture_on_commit_callbacks: Any) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:signup"),
            {
                "email": "Newcomer@Example.com",
                "name": "Nia",
                "password": PASSWORD,
                "organization_name": "Newcomer Ltd",
            },
        )
    assert response.status_code == 302 and response["Location"] == reverse("portal:login")
    credentials = {"email": "newcomer@example.com", "password": PASSWORD}
    unverified = client.post(reverse("portal:login"), credentials)
    assert unverified.status_code == 400
    assert b"confirm your email address first" in unverified.content
    assert reverse("portal:resend-verification").encode() in unverified.content

    (message,) = mail.outbox
    assert message.to == ["newcomer@example.com"]
    code = mailed_code("newcomer@example.com", reverse("portal:verify"))
    assert client.get(reverse("portal:verify")).status_code == 200  # the link's page
    verified = client.post(reverse("portal:verify"), {"code": code})
    assert verified.status_code == 302 and verified["Location"] == reverse("portal:login")

    logged_in = client.post(reverse("portal:login"), credentials)
    assert logged_in.status_code == 302 and logged_in["Location"] == reverse("portal:dashboard")
    assert b"Newcomer Ltd" in client.get(reverse("portal:dashboard")).content


def test_wrong_password_is_one_message_and_no_session(alice: Tenant) -> None:
    client = Client()
    response = client.post(
        reverse("portal:login"), {"email": "alice@example.com", "password": "wrong wrong"}
    )
    assert response.status_code == 400
    assert b"wrong email or password" in response.content
    assert client.get(reverse("portal:dashboard")).status_code == 302


def test_log_in_goes_back_to_next_on_this_site_only(alice: Tenant) -> None:
    credentials = {"email": "alice@example.com", "password": PASSWORD}
    catalog_url = reverse("portal:catalog")
    back = Client().post(f"{reverse('portal:login')}?next={catalog_url}", credentials)
    assert back["Location"] == catalog_url
    away = Client().post(reverse("portal:login"), {**credentials, "next": "https://evil.test/"})
    assert away["Location"] == reverse("portal:dashboard")


def test_resend_verification_says_the_same_for_any_address(
    alice: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:signup"),
            {"email": "late@example.com", "password": PASSWORD, "organization_name": "Late"},
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("portal:resend-verification"), {"email": "late@example.com"})
        unknown = client.post(reverse("portal:resend-verification"), {"email": "who@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert [m.to for m in mail.outbox] == [["late@example.com"]]


# --- throttles ---------------------------------------------------------------------------


@pytest.fixture
def two_per_minute(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"signup": "2/minute", "login": "2/minute"},
    }


@pytest.mark.usefixtures("two_per_minute")
def test_log_in_attempts_past_the_budget_get_429(alice: Tenant) -> None:
    client = Client()
    wrong = {"email": "alice@example.com", "password": "guess guess"}
    assert [client.post(reverse("portal:login"), wrong).status_code for _ in range(2)] == [400, 400]
    refused = client.post(reverse("portal:login"), {**wrong, "password": PASSWORD})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert b"Too many attempts" in refused.content
    # Another address has its own budget.
    other = Client(REMOTE_ADDR="127.0.0.9")
    assert other.post(reverse("portal:login"), {**wrong, "password": PASSWORD}).status_code == 302


@pytest.mark.usefixtures("two_per_minute")
def test_sign_ups_past_the_budget_get_429_and_create_nothing() -> None:
    client = Client()
    for n in range(2):
        body = {"email": f"s{n}@example.com", "password": PASSWORD, "organization_name": f"S{n}"}
        assert client.post(reverse("portal:signup"), body).status_code == 302
    body = {"email": "s9@example.com", "password": PASSWORD, "organization_name": "S9"}
    assert client.post(reverse("portal:signup"), body).status_code == 429
    assert not User.objects.filter(username="s9@example.com").exists()
    # Only POSTs count: the form still opens.
    assert client.get(reverse("portal:signup")).status_code == 200

"""The pages that mailed links open: verification, password reset and invitation. Their
secret is in no URL the server sees (the links carry it in the fragment; the pages POST
it), each works once or harmlessly twice, expires, refuses a malformed code plainly, needs
the CSRF token, sends no Referer, and links of the older shape fail with a clear page."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.core import mail
from django.test import Client
from django.urls import reverse

from mgmt.developers import accounts
from mgmt.gateway.models import DeveloperAccount, Membership
from tests.portal.conftest import PASSWORD, Tenant, mailed_code

pytestmark = [pytest.mark.db, pytest.mark.django_db]

NEW_PASSWORD = "a brand new passphrase"


def _ask_reset(client: Client, email: str, capture: Any) -> str:
    with capture(execute=True):
        asked = client.post(reverse("portal:password-reset"), {"email": email})
    assert asked.status_code == 302
    return mailed_code(email, reverse("portal:password-reset-confirm"))


def _csrf(client: Client, url: str) -> str:
    found = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()
    )
    assert found is not None
    return found.group(1)


def _is_private(response: Any) -> bool:
    # strict-origin, not no-referrer: the pages' POSTs need their Origin header for CSRF.
    policy = response["Referrer-Policy"]
    return policy == "strict-origin" and "no-store" in response["Cache-Control"]


# --- the mails ---------------------------------------------------------------------------


def test_every_mailed_secret_is_only_in_a_fragment_or_spelled_out(
    alice: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:signup"),
            {"email": "new@example.com", "password": PASSWORD, "organization_name": "New"},
        )
        client.post(reverse("portal:password-reset"), {"email": "alice@example.com"})
        accounts.invite(
            organization=alice.organization, by=alice.owner, email="inv@example.com", role="billing"
        )
    codes = [
        mailed_code("new@example.com", reverse("portal:verify")),
        mailed_code("alice@example.com", reverse("portal:password-reset-confirm")),
        mailed_code("inv@example.com", reverse("portal:invitation")),
    ]
    for message in mail.outbox:
        for url in re.findall(r"https?://\S+", message.body):
            parts = urlsplit(url)
            assert not any(code in parts.path + parts.query for code in codes), url


# --- verification ------------------------------------------------------------------------


def test_the_verification_page_posts_the_code_and_a_second_time_is_harmless(
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:signup"),
            {"email": "vera@example.com", "password": PASSWORD, "organization_name": "Vera"},
        )
    code = mailed_code("vera@example.com", reverse("portal:verify"))
    page = client.get(reverse("portal:verify"))
    assert page.status_code == 200 and _is_private(page)
    # Without the script, the visitor pastes the code into a visible field.
    assert re.search(r'<input type="text" name="code"[^>]*data-mailed-code', page.content.decode())
    assert b"portal/mailed_link.js" in page.content and b"data-submit-code" in page.content

    verified = client.post(reverse("portal:verify"), {"code": f"  {code}\n"})
    assert verified.status_code == 302 and verified["Location"] == reverse("portal:login")
    assert _is_private(verified)
    account = DeveloperAccount.objects.get(user__username="vera@example.com")
    assert account.email_verified_at is not None
    again = client.post(reverse("portal:verify"), {"code": code})
    assert again.status_code == 302
    assert (
        DeveloperAccount.objects.get(pk=account.pk).email_verified_at == account.email_verified_at
    )


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("", 400, b"This field is required"),
        ("not-a-token", 400, b"not valid"),
        (".eJyrVkpNLUrNS1ayUkpKzUvOyS_PS1WqBQBXmwhM:1t:forged", 400, b"not valid"),
        ("x" * 1001, 400, b"at most 1000 characters"),
    ],
)
def test_a_malformed_verification_code_is_a_plain_refusal(
    code: str, status: int, words: bytes
) -> None:
    response = Client().post(reverse("portal:verify"), {"code": code})
    assert response.status_code == status and words in response.content
    assert _is_private(response)


def test_an_expired_verification_code_says_so(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = accounts.sign_up(email="late@example.com", password=PASSWORD, organization_name="L")
    monkeypatch.setattr(accounts, "VERIFICATION_MAX_AGE", timedelta(seconds=-1))
    response = Client().post(
        reverse("portal:verify"), {"code": accounts.verification_token(signed.user)}
    )
    assert response.status_code == 400 and b"has expired" in response.content
    assert not DeveloperAccount.objects.get(user=signed.user).email_verified


# --- password reset ----------------------------------------------------------------------


def test_a_password_is_reset_once_from_the_mailed_code(
    alice: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    code = _ask_reset(client, "alice@example.com", django_capture_on_commit_callbacks)
    page = client.get(reverse("portal:password-reset-confirm"))
    assert page.status_code == 200 and _is_private(page)
    assert b'name="code"' in page.content and b'name="password"' in page.content

    weak = client.post(reverse("portal:password-reset-confirm"), {"code": code, "password": "x"})
    assert weak.status_code == 400 and b"password" in weak.content
    # The code stays in the form (in the body) for the next try.
    assert f'value="{code}"' in weak.content.decode()

    done = client.post(
        reverse("portal:password-reset-confirm"), {"code": code, "password": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == reverse("portal:login")
    credentials = {"email": "alice@example.com", "password": NEW_PASSWORD}
    assert client.post(reverse("portal:login"), credentials).status_code == 302

    replayed = Client().post(
        reverse("portal:password-reset-confirm"), {"code": code, "password": "an attacker's pick"}
    )
    assert replayed.status_code == 400 and _is_private(replayed)
    assert b"This reset link is not valid" in replayed.content
    assert b"Your password has not changed" in replayed.content
    assert User.objects.get(pk=alice.owner.pk).check_password(NEW_PASSWORD)


def test_an_expired_reset_code_changes_nothing(
    alice: Tenant, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    code = _ask_reset(Client(), "alice@example.com", django_capture_on_commit_callbacks)
    settings.PASSWORD_RESET_TIMEOUT = -1
    response = Client().post(
        reverse("portal:password-reset-confirm"), {"code": code, "password": NEW_PASSWORD}
    )
    assert response.status_code == 400 and b"not valid" in response.content
    assert User.objects.get(pk=alice.owner.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    "code", ["no-dot", ".", "Mw.", ".abc-def", "!!.abc-def", "AAAAAAAAAAAA.x", "Mw.a.b.c", "é.ü"]
)
def test_a_malformed_reset_code_is_the_invalid_link_page(alice: Tenant, code: str) -> None:
    response = Client().post(
        reverse("portal:password-reset-confirm"), {"code": code, "password": NEW_PASSWORD}
    )
    assert response.status_code == 400 and b"This reset link is not valid" in response.content
    assert User.objects.get(pk=alice.owner.pk).check_password(PASSWORD)


# --- invitations -------------------------------------------------------------------------


def test_an_invitee_sees_the_invitation_before_accepting_it(
    alice: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    frank = User.objects.create_user("frank@example.com", "frank@example.com", PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        accounts.invite(
            organization=alice.organization,
            by=alice.owner,
            email="frank@example.com",
            role="developer",
        )
    code = mailed_code("frank@example.com", reverse("portal:invitation"))
    client = Client()
    client.force_login(frank)
    page = client.get(reverse("portal:invitation"))
    assert page.status_code == 200 and _is_private(page)
    assert b"data-submit-code" in page.content and b"data-keep-code" in page.content

    shown = client.post(reverse("portal:invitation"), {"code": code})
    assert shown.status_code == 200 and _is_private(shown)
    assert b"Alice Corp" in shown.content and b"as developer" in shown.content
    assert not Membership.objects.filter(user=frank, organization=alice.organization).exists()

    accepted = client.post(reverse("portal:invitation"), {"code": code, "accept": "1"})
    assert accepted.status_code == 302 and accepted["Location"] == reverse("portal:dashboard")
    assert Membership.objects.get(user=frank, organization=alice.organization).role == "developer"


def test_a_malformed_or_empty_invitation_code_is_a_plain_refusal(alice: Tenant) -> None:
    for code, status in [("", 400), ("nope", 404), ("x" * 1001, 400), ("\u00e9" * 50, 404)]:
        response = Client().post(reverse("portal:invitation"), {"code": code, "accept": "1"})
        assert response.status_code == status, code
    assert Membership.objects.filter(organization=alice.organization).count() == 1


# --- CSRF, old links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["portal:verify", "portal:password-reset-confirm", "portal:invitation"]
)
def test_the_mailed_link_pages_need_the_csrf_token(alice: Tenant, name: str) -> None:
    client = Client(enforce_csrf_checks=True)
    body = {"code": alice.invitation.email, "password": NEW_PASSWORD}
    assert client.post(reverse(name), body).status_code == 403
    body["csrfmiddlewaretoken"] = _csrf(client, reverse(name))
    assert client.post(reverse(name), body).status_code != 403


def test_links_of_the_older_shape_fail_with_a_clear_page_and_change_nothing(
    alice: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    pending = accounts.sign_up(email="old@example.com", password=PASSWORD, organization_name="Old")
    reset = _ask_reset(Client(), "alice@example.com", django_capture_on_commit_callbacks)
    uid, token = accounts.split_reset_code(reset)
    invitation = accounts.invite(
        organization=alice.organization, by=alice.owner, email="old@example.com", role="billing"
    )
    old_links = {
        f"/portal/verify/{accounts.verification_token(pending.user)}": b"new confirmation link",
        f"/portal/password-reset/{uid}/{token}": b"your password has not changed",
        f"/portal/invitations/{invitation.token}": b"send a new one",
    }
    client = Client()
    client.force_login(pending.user)
    for url, words in old_links.items():
        for response in (client.get(url), client.post(url, {"password": NEW_PASSWORD})):
            # 200: Django would log the path (with its secret) of a 4xx answer.
            assert response.status_code == 200 and _is_private(response), url
            assert b"This link is no longer valid" in response.content and words in response.content
            assert url.rsplit("/", 1)[1].encode() not in response.content
    assert not DeveloperAccount.objects.get(user=pending.user).email_verified
    assert User.objects.get(pk=alice.owner.pk).check_password(PASSWORD)
    assert not Membership.objects.filter(user=pending.user, organization=alice.organization)


def test_the_script_is_a_static_file() -> None:
    # No inline script: the pages work under a Content-Security-Policy without 'unsafe-inline'.
    found = finders.find("portal/mailed_link.js")
    assert isinstance(found, str)
    script = Path(found).read_text(encoding="utf-8")
    assert "history.replaceState" in script and "location.hash" in script

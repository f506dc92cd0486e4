"""Sign-up, verification, log-in (session and token), tokens, invitations and throttles
through the developer API."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from mgmt.gateway.models import AccessToken, Membership, Organization, Role
from tests.devapi.world import PASSWORD, World, problem

pytestmark = [pytest.mark.db]


def _sign_up(client: APIClient, email: str, org: str = "", **more: Any) -> Any:
    body = {"email": email, "password": PASSWORD, **more}
    if org:
        body["organization_name"] = org
    return client.post("/api/v1/auth/signup", body, format="json")


def _verify_link(email: str) -> str:
    (message,) = [m for m in mail.outbox if email in m.to]
    found = re.search(r"/portal/verify#(\S+)", message.body)
    assert found is not None, message.body
    return found.group(1)


def _token(client: APIClient, email: str, **more: Any) -> Any:
    body = {"email": email, "password": PASSWORD, **more}
    return client.post("/api/v1/auth/tokens", body, format="json")


def test_sign_up_verify_and_take_a_token_that_works_until_revoked(
    db: None, django_capture_on_commit_callbacks: Any
):
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        signed = _sign_up(client, "Carol@Example.com", "Carol Ltd", name="Carol")
    assert signed.status_code == 201, signed.content
    assert signed.json()["email"] == "carol@example.com"
    assert signed.json()["email_verified"] is False
    assert signed.json()["organization"]["slug"] == "carol-ltd"

    refused = _token(client, "carol@example.com")
    assert refused.status_code == 403
    assert problem(refused)["type"].endswith("/email-not-verified")

    verified = client.post(
        "/api/v1/auth/verify-email", {"token": _verify_link("carol@example.com")}, format="json"
    )
    assert verified.status_code == 200 and verified.json()["email_verified"] is True

    issued = _token(client, "carol@example.com", label="ci", expires_in_days=7)
    assert issued.status_code == 201
    assert issued["Cache-Control"] == "no-store"
    secret = issued.json()["token"]
    assert secret.startswith("tgp_")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    me = client.get("/api/v1/me").json()
    assert me["organizations"] == [{"slug": "carol-ltd", "name": "Carol Ltd", "role": "owner"}]
    listed = client.get("/api/v1/auth/tokens")
    assert secret not in listed.content.decode()
    assert listed.json()["results"][0]["label"] == "ci"
    expires = AccessToken.objects.get(token_id=issued.json()["token_id"]).expires_at
    assert abs(expires - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)

    assert client.delete(f"/api/v1/auth/tokens/{issued.json()['token_id']}").status_code == 204
    after = client.get("/api/v1/me")
    assert after.status_code == 401
    assert problem(after)["type"].endswith("/bad-credentials")


def test_wrong_password_unknown_address_and_forged_or_expired_tokens_are_401(world: World):
    client = APIClient()
    wrong = _token(client, "alice@example.com", password="not the passphrase")
    unknown = _token(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert problem(wrong)["detail"] == problem(unknown)["detail"]  # tells nothing apart

    real = world.alice.client.get("/api/v1/auth/tokens").json()["results"][0]["token_id"]
    forged = f"tgp_{real}_{'A' * 43}"  # a real id with a made-up secret
    for presented in [forged, "tgp_short", "not-a-token", "tgp_" + "é" * 56]:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {presented}")
        response = client.get("/api/v1/me")
        assert response.status_code == 401, presented
        assert problem(response)["type"].endswith("/bad-credentials")

    AccessToken.objects.filter(user=world.alice.user).update(expires_at=timezone.now())
    assert world.alice.client.get("/api/v1/me").status_code == 401


def test_sign_up_refuses_taken_addresses_and_names_and_weak_passwords_with_field_errors(
    world: World,
):
    client = APIClient()
    cases = [
        ({"email": "ALICE@example.com", "organization_name": "New Org"}, "email"),
        ({"email": "new@example.com", "organization_name": "alice corp"}, "organization_name"),
        ({"email": "new@example.com", "organization_name": "X", "password": "short"}, "password"),
        (
            {"email": "new@example.com", "organization_name": "X", "password": "12345678901"},
            "password",
        ),
        ({"email": "new@example.com", "password": PASSWORD}, "organization_name"),
        ({"email": "not an address", "organization_name": "X"}, "email"),
        (
            {"email": "new@example.com", "organization_name": "X", "invitation_token": "x"},
            "invitation_token",
        ),
    ]
    users, orgs = User.objects.count(), Organization.objects.count()
    for body, field in cases:
        response = client.post("/api/v1/auth/signup", {"password": PASSWORD, **body}, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in problem(response)["errors"], (body, response.json())
    assert (User.objects.count(), Organization.objects.count()) == (users, orgs)


def test_a_session_log_in_needs_csrf_for_writes_and_logs_out(world: World):
    client = APIClient(enforce_csrf_checks=True)
    logged_in = client.post(
        "/api/v1/auth/session", {"email": "alice@example.com", "password": PASSWORD}, format="json"
    )
    assert logged_in.status_code == 200
    assert "sessionid" in logged_in.cookies
    assert client.get("/api/v1/me").json()["email"] == "alice@example.com"

    org = world.alice.org
    without_csrf = client.post(
        f"/api/v1/orgs/{org}/applications", {"name": "from the browser"}, format="json"
    )
    assert without_csrf.status_code == 403
    assert "CSRF" in problem(without_csrf)["detail"]

    csrf = client.cookies["csrftoken"].value
    with_csrf = client.post(
        f"/api/v1/orgs/{org}/applications",
        {"name": "from the browser"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert with_csrf.status_code == 201

    assert client.delete("/api/v1/auth/session", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_a_forged_session_cookie_is_no_session(world: World):
    client = APIClient()
    client.cookies["sessionid"] = "forged0000000000000000000000000000"
    response = client.get("/api/v1/me")
    assert response.status_code == 401


def test_an_invitation_brings_a_new_account_in_verified_with_its_role(
    world: World, django_capture_on_commit_callbacks: Any
):
    owner = world.alice.client
    org = world.alice.org
    with django_capture_on_commit_callbacks(execute=True):
        sent = owner.post(
            f"/api/v1/orgs/{org}/invitations",
            {"email": "Dave@example.com", "role": "billing"},
            format="json",
        )
    assert sent.status_code == 201, sent.content
    assert sent.json()["state"] == "open"
    assert "token" not in sent.json()  # the address proves itself by reading its mail
    (message,) = [m for m in mail.outbox if "dave@example.com" in m.to]
    token = re.search(r"/portal/invitations/accept#(\S+)", message.body)
    assert token is not None

    joined = _sign_up(APIClient(), "dave@example.com", invitation_token=token.group(1))
    assert joined.status_code == 201
    assert joined.json()["email_verified"] is True
    membership = Membership.objects.get(user__username="dave@example.com")
    assert (membership.organization.slug, membership.role) == (org, Role.BILLING)
    listed = owner.get(f"/api/v1/orgs/{org}/invitations").json()["results"]
    assert {i["email"]: i["state"] for i in listed}["dave@example.com"] == "accepted"

    again = _sign_up(APIClient(), "eve@example.com", invitation_token=token.group(1))
    assert again.status_code == 400


def test_an_existing_account_accepts_an_invitation_sent_to_its_address(world: World):
    from mgmt.developers import accounts

    issued = accounts.invite(
        organization=world.bob.organization,
        by=world.bob.user,
        email="alice@example.com",
        role="developer",
    )
    wrong = world.bob.client.post(
        "/api/v1/invitations/accept", {"token": issued.token}, format="json"
    )
    assert wrong.status_code == 400  # sent to alice, not to bob
    accepted = world.alice.client.post(
        "/api/v1/invitations/accept", {"token": issued.token}, format="json"
    )
    assert accepted.status_code == 200
    assert accepted.json() == {"slug": world.bob.org, "name": "Bob Corp", "role": "developer"}
    assert world.alice.client.get(f"/api/v1/orgs/{world.bob.org}").status_code == 200


def test_the_last_owner_cannot_step_down_or_leave(world: World):
    owner = world.alice.client
    mine = Membership.objects.get(user=world.alice.user)
    path = f"/api/v1/orgs/{world.alice.org}/members/{mine.pk}"
    demoted = owner.patch(path, {"role": "developer"}, format="json")
    assert demoted.status_code == 400
    assert "role" in problem(demoted)["errors"]
    assert owner.delete(path).status_code == 403
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER


@pytest.mark.parametrize(
    ("scope", "path", "body"),
    [
        ("signup", "/api/v1/auth/signup", {"email": "x@example.com", "password": "p"}),
        ("login", "/api/v1/auth/tokens", {"email": "alice@example.com", "password": "wrong"}),
        ("login", "/api/v1/auth/session", {"email": "alice@example.com", "password": "wrong"}),
    ],
)
def test_sign_up_and_log_in_are_throttled_per_client(
    world: World, settings: Any, scope: str, path: str, body: dict[str, str]
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"signup": "3/hour", "login": "3/hour", "key_creation": "3/hour"},
    }
    client = APIClient()
    statuses = [client.post(path, body, format="json").status_code for _ in range(4)]
    assert 429 not in statuses[:3]
    assert statuses[3] == 429
    throttled = client.post(path, body, format="json")
    assert int(throttled["Retry-After"]) > 0
    assert problem(throttled)["type"].endswith("/too-many-requests")


def test_key_creation_is_throttled_per_account_and_listing_is_not(world: World, settings: Any):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"signup": "3/hour", "login": "3/hour", "key_creation": "2/hour"},
    }
    keys = f"{world.alice.app}/keys"
    created = [world.alice.client.post(keys, {}, format="json").status_code for _ in range(3)]
    assert created == [201, 201, 429]
    assert world.alice.client.get(keys).status_code == 200
    assert world.bob.client.post(f"{world.bob.app}/keys", {}, format="json").status_code == 201


def _reset_link(email: str) -> tuple[str, str]:
    (message,) = [m for m in mail.outbox if email in m.to]
    found = re.search(r"/portal/password-reset/confirm#([\w-]+)\.([\w-]+)\s", message.body)
    assert found is not None, message.body
    return found.group(1), found.group(2)


def test_a_password_reset_sets_the_password_once_and_revokes_every_token(
    world: World, django_capture_on_commit_callbacks: Any
):
    anonymous = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        asked = anonymous.post(
            "/api/v1/auth/password-reset", {"email": "ALICE@example.com"}, format="json"
        )
        unknown = anonymous.post(
            "/api/v1/auth/password-reset", {"email": "nobody@example.com"}, format="json"
        )
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()  # tells a stranger nothing
    uid, token = _reset_link("alice@example.com")
    assert len(mail.outbox) == 1

    confirm = "/api/v1/auth/password-reset/confirm"
    weak = anonymous.post(confirm, {"uid": uid, "token": token, "password": "short"}, format="json")
    assert weak.status_code == 400 and "password" in problem(weak)["errors"]
    new = "a brand new passphrase"
    done = anonymous.post(confirm, {"uid": uid, "token": token, "password": new}, format="json")
    assert done.status_code == 200
    assert world.alice.client.get("/api/v1/me").status_code == 401  # the old token is revoked
    assert _token(anonymous, "alice@example.com").status_code == 401  # the old password
    assert _token(anonymous, "alice@example.com", password=new).status_code == 201

    again = anonymous.post(
        confirm, {"uid": uid, "token": token, "password": "yet another one!"}, format="json"
    )
    assert again.status_code == 401  # a link works once
    assert problem(again)["type"].endswith("/bad-credentials")
    for forged_uid, forged_token in [("AAAA", token), (uid, token[:-1] + "x"), ("!!", "x")]:
        response = anonymous.post(
            confirm, {"uid": forged_uid, "token": forged_token, "password": new}, format="json"
        )
        assert response.status_code in (400, 401), (forged_uid, response.content)


def test_a_password_reset_takes_the_mailed_code_whole(
    world: World, django_capture_on_commit_callbacks: Any
):
    anonymous = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        anonymous.post("/api/v1/auth/password-reset", {"email": "alice@example.com"}, format="json")
    uid, token = _reset_link("alice@example.com")
    (message,) = mail.outbox
    assert f"enter this code:\n\n{uid}.{token}\n" in message.body
    confirm = "/api/v1/auth/password-reset/confirm"
    new = "a brand new passphrase"
    both = {"code": f"{uid}.{token}", "uid": uid, "token": token, "password": new}
    assert anonymous.post(confirm, both, format="json").status_code == 400
    for malformed in ("", "no-dot-here", f"{uid}.", f".{token}"):
        refused = anonymous.post(confirm, {"code": malformed, "password": new}, format="json")
        assert refused.status_code in (400, 401), (malformed, refused.content)
    done = anonymous.post(confirm, {"code": f"{uid}.{token}", "password": new}, format="json")
    assert done.status_code == 200
    assert _token(anonymous, "alice@example.com", password=new).status_code == 201
    again = anonymous.post(confirm, {"code": f"{uid}.{token}", "password": new}, format="json")
    assert again.status_code == 401


def test_an_unverified_account_gets_no_reset_mail(
    db: None, django_capture_on_commit_callbacks: Any
):
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        _sign_up(client, "fresh@example.com", "Fresh Ltd")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/v1/auth/password-reset", {"email": "fresh@example.com"}, format="json")
    assert mail.outbox == []

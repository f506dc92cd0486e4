"""What the portal's forms do when the input is good: each write lands through its
service, the page redirects (post-redirect-get), and the next page shows the result."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mgmt.developers import accounts
from mgmt.gateway.models import (
    Application,
    Invitation,
    LimitRequest,
    Membership,
    Role,
    Subscription,
)
from tests.portal.conftest import (
    PASSWORD,
    Catalog,
    Tenant,
    mailed_code,
    signed_in,
    verified_user,
)

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def _app_url(tenant: Tenant, name: str = "application", **more: Any) -> str:
    kwargs = {"org": tenant.organization.slug, "public_id": tenant.application.public_id}
    return reverse(f"portal:{name}", kwargs=kwargs | more)


def test_creating_an_application_redirects_to_its_page(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    response = client.post(
        reverse("portal:applications", args=[alice.organization.slug]),
        {"name": "Billing sync", "description": "nightly", "contact_email": "ops@example.com"},
    )
    created = Application.objects.get(organization=alice.organization, name="Billing sync")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "portal:application", args=[alice.organization.slug, created.public_id]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Billing sync" in page and "nightly" in page and "ops@example.com" in page


def test_editing_and_deleting_an_application(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    edited = client.post(
        _app_url(alice, "edit-application"), {"name": "Checkout v2", "description": "new"}
    )
    assert edited.status_code == 302
    alice.application.refresh_from_db()
    assert (alice.application.name, alice.application.description) == ("Checkout v2", "new")
    deleted = client.post(_app_url(alice, "delete-application"), {"confirm": "on"})
    assert deleted.status_code == 302
    assert deleted["Location"] == reverse("portal:applications", args=[alice.organization.slug])
    assert not Application.objects.filter(pk=alice.application.pk).exists()
    assert client.get(_app_url(alice)).status_code == 404


def test_a_key_with_an_expiry_lists_it(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    response = client.post(
        _app_url(alice, "create-key"), {"label": "temp", "expires_at": "2031-05-01T12:30"}
    )
    assert response.status_code == 201
    assert b"2031-05-01 12:30 UTC" in client.get(_app_url(alice)).content


@pytest.mark.parametrize(
    ("plan", "state", "said"),
    [("free", Subscription.State.ACTIVE, "is subscribed to"), ("pro", "pending", "approves it")],
)
def test_subscribing_from_the_catalog(
    alice: Tenant, catalog: Catalog, plan: str, state: str, said: str
) -> None:
    client = signed_in(alice.owner)
    other = Application.objects.create(organization=alice.organization, name="Second")
    response = client.post(
        reverse("portal:subscribe", args=["demo"]),
        {"plan": plan, "application": f"{alice.organization.slug}/{other.public_id}"},
    )
    assert response.status_code == 302
    subscription = Subscription.objects.get(application=other)
    assert (subscription.plan.slug, subscription.state) == (plan, state)
    assert said in client.get(response["Location"]).content.decode()


def test_the_subscribe_form_offers_only_applications_the_role_may_manage(
    alice: Tenant, carol: User, catalog: Catalog
) -> None:
    page = signed_in(carol).get(reverse("portal:product", args=["demo"])).content.decode()
    assert alice.application.public_id not in page
    assert "You have no application you may subscribe" in page
    own = signed_in(alice.owner).get(reverse("portal:product", args=["demo"])).content.decode()
    assert f"{alice.organization.slug}/{alice.application.public_id}" in own


def test_cancelling_a_subscription(alice: Tenant) -> None:
    url = _app_url(alice, "cancel-subscription", subscription_id=alice.subscription.pk)
    assert signed_in(alice.owner).post(url).status_code == 302
    alice.subscription.refresh_from_db()
    assert alice.subscription.state == Subscription.State.CANCELLED


def test_asking_for_higher_limits_then_withdrawing(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    subscription_url = _app_url(alice, "subscription", subscription_id=alice.subscription.pk)
    withdraw = _app_url(
        alice,
        "withdraw-limit-request",
        subscription_id=alice.subscription.pk,
        request_id=alice.limit_request.pk,
    )
    assert client.post(withdraw)["Location"] == subscription_url
    alice.limit_request.refresh_from_db()
    assert alice.limit_request.state == LimitRequest.State.WITHDRAWN

    response = client.post(
        _app_url(alice, "request-limits", subscription_id=alice.subscription.pk),
        {
            "window_0_requests": "1000",
            "window_0_unit": "minute",
            "window_2_requests": "50",
            "window_2_unit": "second",
            "window_2_unit_multiplier": "",
            "quota_requests": "2000000",
            "reason": "Black Friday",
        },
    )
    assert response.status_code == 302 and response["Location"] == subscription_url
    asked = LimitRequest.objects.get(subscription=alice.subscription, state="pending")
    assert asked.windows == [
        {"requests": 50, "unit": "second", "unit_multiplier": 1},
        {"requests": 1000, "unit": "minute", "unit_multiplier": 1},
    ]
    assert (asked.quota_requests, asked.reason, asked.requested_by) == (
        2_000_000,
        "Black Friday",
        alice.owner,
    )
    page = client.get(subscription_url).content.decode()
    assert "1,000 calls per minute" in page and "Quota 2,000,000" in page
    assert "Withdraw this request" in page


def test_an_owner_invites_and_the_invitee_signs_up_from_the_mail(
    alice: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(alice.owner).post(
            reverse("portal:invite", args=[alice.organization.slug]),
            {"email": "erin@example.com", "role": Role.BILLING},
        )
    assert response.status_code == 302
    token = mailed_code("erin@example.com", reverse("portal:invitation"))

    erin = Client()
    assert erin.get(reverse("portal:invitation")).status_code == 200  # the link's page
    shown = erin.post(reverse("portal:invitation"), {"code": token}).content.decode()
    assert "Alice Corp" in shown and "billing" in shown  # what joining means, first
    # The sign-up form on that page carries the token in its body, not in a URL.
    assert f'action="{reverse("portal:signup")}"' in shown
    assert f'name="invitation_token" value="{token}"' in shown
    assert 'value="erin@example.com"' in shown
    joined = erin.post(
        reverse("portal:signup"),
        {"email": "erin@example.com", "password": PASSWORD, "invitation_token": token},
    )
    assert joined.status_code == 302 and joined["Location"] == reverse("portal:dashboard")
    membership = Membership.objects.get(user__username="erin@example.com")
    assert (membership.organization, membership.role) == (alice.organization, Role.BILLING)
    assert b"Alice Corp" in erin.get(reverse("portal:dashboard")).content


def test_a_signed_in_invitee_accepts_and_another_address_cannot(alice: Tenant) -> None:
    frank = verified_user("frank@example.com", "Frank Co")
    grace = verified_user("grace@example.com", "Grace Co")
    token = accounts.invite(
        organization=alice.organization, by=alice.owner, email="frank@example.com", role="developer"
    ).token
    url = reverse("portal:invitation")
    accept = {"code": token, "accept": "1"}

    wrong = signed_in(grace).post(url, accept)
    assert wrong.status_code == 400
    assert b"sent to another address" in wrong.content
    assert not Membership.objects.filter(user=grace, organization=alice.organization).exists()

    anonymous = Client().post(url, accept)
    assert anonymous.status_code == 302
    # Back to the invitation's page after logging in: its script still has the code.
    assert (
        anonymous["Location"] == f"{reverse('portal:login')}?next=%2Fportal%2Finvitations%2Faccept"
    )

    client = signed_in(frank)
    shown = client.post(url, {"code": token})
    assert b"Accept the invitation" in shown.content
    assert not Membership.objects.filter(user=frank, organization=alice.organization).exists()
    accepted = client.post(url, accept)
    assert accepted.status_code == 302
    assert Membership.objects.get(user=frank, organization=alice.organization).role == "developer"
    used = client.post(url, accept)  # used once: the code leads nowhere now
    assert used.status_code == 404 and b"not valid" in used.content


def test_an_owner_changes_a_role_removes_a_member_and_revokes_an_invitation(
    alice: Tenant, carol: User
) -> None:
    client = signed_in(alice.owner)
    org = alice.organization.slug
    carols = Membership.objects.get(user=carol, organization=alice.organization)
    changed = client.post(
        reverse("portal:change-role", args=[org, carols.pk]), {f"member-{carols.pk}-role": "owner"}
    )
    assert changed.status_code == 302
    carols.refresh_from_db()
    assert carols.role == Role.OWNER

    revoked = client.post(reverse("portal:revoke-invitation", args=[org, alice.invitation.pk]))
    assert revoked.status_code == 302
    assert Invitation.objects.get(pk=alice.invitation.pk).revoked_at is not None

    removed = client.post(reverse("portal:remove-member", args=[org, carols.pk]))
    assert removed.status_code == 302
    assert not Membership.objects.filter(pk=carols.pk).exists()
    page = client.get(reverse("portal:members", args=[org])).content.decode()
    assert "Remove carol@example.com" not in page
    assert "Revoked" in page


def test_a_member_who_removes_themselves_lands_on_the_dashboard(alice: Tenant, carol: User) -> None:
    carols = Membership.objects.get(user=carol, organization=alice.organization)
    carols.role = Role.OWNER
    carols.save()
    response = signed_in(carol).post(
        reverse("portal:remove-member", args=[alice.organization.slug, carols.pk])
    )
    assert response["Location"] == reverse("portal:dashboard")


def test_key_creation_in_the_portal_spends_the_accounts_api_budget(
    alice: Tenant, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"signup": "9/hour", "login": "9/hour", "key_creation": "2/hour"},
    }
    client = signed_in(alice.owner)
    made = [client.post(_app_url(alice, "create-key"), {"label": f"k{n}"}) for n in range(3)]
    assert [r.status_code for r in made] == [201, 201, 429]
    assert int(made[2]["Retry-After"]) >= 1
    assert not alice.application.keys.filter(label="k2").exists()

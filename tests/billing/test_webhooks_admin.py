"""The webhook admin API owners use: the secret is shown once, URLs are checked, each owner
sees only their own organization's endpoints, events and deliveries, and a failed delivery
can be sent again."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mgmt.billing import webhooks_admin  # noqa: F401 - registers the admin classes
from mgmt.billing.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from mgmt.billing.webhook_endpoints import create_endpoint
from mgmt.gateway.models import Membership, Organization, Role
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]

HOOK = "http://127.0.0.1:9/hooks/billing"  # never called here: nothing is delivered
ACME_HOOK = "http://127.0.0.1:9/acme-hooks"
ADD = reverse("admin:billing_webhookendpoint_add")
ENDPOINTS = reverse("admin:billing_webhookendpoint_changelist")
EVENTS = reverse("admin:billing_webhookevent_changelist")
DELIVERIES = reverse("admin:billing_webhookdelivery_changelist")


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = True
    settings.TOLLGATE_AUTO_PUBLISH = False


def _staff(organization: Organization, role: str = Role.OWNER) -> Client:
    """A signed-in staff member of `organization` with every webhook permission."""
    user = User.objects.create_user(f"{role}-{organization.slug}", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="billing",
            content_type__model__in=["webhookendpoint", "webhookevent", "webhookdelivery"],
        )
    )
    Membership.objects.create(user=user, organization=organization, role=role)
    client = Client()
    client.force_login(user)
    return client


def _world() -> dict[str, Any]:
    """Acme with an endpoint, an event and a failed delivery of it; Globex beside it."""
    acme, globex = factories.organization(name="Acme"), factories.organization(name="Globex")
    endpoint, _ = create_endpoint(acme, ACME_HOOK, [])
    event = WebhookEvent.objects.create(
        id="evt_acme1",
        organization=acme,
        type="invoice.finalized",
        subject="invoice:1",
        payload={"type": "invoice.finalized", "data": {"id": "evt_acme1"}},
    )
    delivery = WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        state=WebhookDelivery.State.FAILED,
        attempts=13,
        next_attempt_at=None,
        last_status=503,
        last_error="HTTP 503",
    )
    DeliveryAttempt.objects.create(delivery=delivery, status=503, error="acme receiver busy")
    return {"acme": acme, "globex": globex, "endpoint": endpoint, "delivery": delivery}


@pytest.fixture
def world() -> dict[str, Any]:
    return _world()


def test_creating_an_endpoint_shows_its_secret_once():
    acme = factories.organization()
    owner = _staff(acme)

    response = owner.post(
        ADD,
        {"organization": acme.pk, "url": HOOK, "event_types": ["invoice.voided"], "active": "on"},
    )

    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert endpoint.secret.startswith("whsec_")
    assert response.content.decode().count(endpoint.secret) == 1
    assert (endpoint.url, endpoint.event_types, endpoint.active) == (
        HOOK,
        ["invoice.voided"],
        True,
    )
    assert endpoint.secret not in str(response.cookies)
    for page in (ENDPOINTS, reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk])):
        shown = owner.get(page)
        assert shown.status_code == 200
        assert endpoint.secret not in shown.content.decode()


def test_a_private_address_is_refused_on_the_add_form(settings):
    settings.TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = False
    acme = factories.organization()

    response = _staff(acme).post(
        ADD, {"organization": acme.pk, "url": "https://127.0.0.1/hook", "active": "on"}
    )

    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_owner_cannot_add_an_endpoint_to_another_organization():
    acme, globex = factories.organization(), factories.organization()
    owner = _staff(acme)

    form = owner.get(ADD).content.decode()
    assert acme.name in form
    assert globex.name not in form
    response = owner.post(ADD, {"organization": globex.pk, "url": HOOK, "active": "on"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_staff_of_another_organization_see_none_of_its_webhooks(world):
    outsider = _staff(world["globex"])
    endpoint, delivery = world["endpoint"], world["delivery"]

    for page in (ENDPOINTS, EVENTS, DELIVERIES):
        listed = outsider.get(page)
        assert listed.status_code == 200
        assert ACME_HOOK not in listed.content.decode()
        assert "evt_acme1" not in listed.content.decode()
    for page in (
        reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:billing_webhookevent_change", args=["evt_acme1"]),
        reverse("admin:billing_webhookdelivery_change", args=[delivery.pk]),
    ):
        assert outsider.get(page).status_code == 302  # "does not exist", back to the index


def test_a_developer_member_sees_no_billing_webhooks(world):
    developer = _staff(world["acme"], role=Role.DEVELOPER)

    assert world["endpoint"].url not in developer.get(ENDPOINTS).content.decode()


def test_an_owner_sees_the_endpoint_with_its_last_delivery_and_the_attempt_log(world):
    owner = _staff(world["acme"], role=Role.BILLING)

    listed = owner.get(ENDPOINTS).content.decode()
    assert world["endpoint"].url in listed
    assert "failed" in listed
    assert "1 failed" in owner.get(EVENTS).content.decode()
    page = owner.get(reverse("admin:billing_webhookdelivery_change", args=[world["delivery"].pk]))
    assert page.status_code == 200
    assert "acme receiver busy" in page.content.decode()
    assert world["endpoint"].secret not in page.content.decode()
    event_page = owner.get(reverse("admin:billing_webhookevent_change", args=["evt_acme1"]))
    assert event_page.status_code == 200


def test_a_superuser_sees_every_organizations_webhooks(world, admin_client):
    assert world["endpoint"].url in admin_client.get(ENDPOINTS).content.decode()
    assert "evt_acme1" in admin_client.get(DELIVERIES).content.decode()


def test_retry_now_makes_a_failed_delivery_pending_and_due(world):
    owner = _staff(world["acme"])
    before = timezone.now()

    owner.post(
        DELIVERIES,
        {"action": "retry_now", "_selected_action": [world["delivery"].pk]},
    )

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDelivery.State.PENDING
    assert delivery.next_attempt_at is not None
    assert before <= delivery.next_attempt_at <= timezone.now()


def test_retry_now_reaches_no_other_organizations_delivery(world):
    _staff(world["globex"]).post(
        DELIVERIES, {"action": "retry_now", "_selected_action": [world["delivery"].pk]}
    )

    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.FAILED


def test_rotating_shows_the_new_secret_once_and_replaces_the_old(world):
    owner = _staff(world["acme"])
    old = world["endpoint"].secret

    response = owner.post(
        ENDPOINTS, {"action": "rotate", "_selected_action": [world["endpoint"].pk]}
    )

    new = WebhookEndpoint.objects.get().secret
    assert new != old
    assert "no-store" in response["Cache-Control"]
    assert new in response.content.decode()
    assert old not in response.content.decode()


def test_events_and_deliveries_cannot_be_added_by_hand(world, admin_client):
    for model in ("webhookevent", "webhookdelivery"):
        assert admin_client.get(reverse(f"admin:billing_{model}_add")).status_code == 403

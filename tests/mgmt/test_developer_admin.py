"""API owners in admin: OpenAPI documents checked on upload, limit requests and pending
subscriptions answered with actions that reach the gateway's rows."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mgmt.developers import access, accounts
from mgmt.gateway.models import ApiVersion, LimitRequest, Membership, Role, Subscription
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]

_DOC = b'{"openapi": "3.0.3", "info": {"title": "Orders", "version": "1"}, "paths": {}}'


def _version_form(version: ApiVersion, **fields: object) -> dict[str, object]:
    return {
        "version": version.version,
        "path_prefix": version.path_prefix,
        "openapi_document": version.openapi_document,
        "routes-TOTAL_FORMS": 0,
        "routes-INITIAL_FORMS": 0,
        "routes-MIN_NUM_FORMS": 0,
        "routes-MAX_NUM_FORMS": 1000,
        **fields,
    }


def test_an_uploaded_openapi_document_is_stored_on_the_version(admin_client):
    version = factories.api_version()
    url = reverse("admin:gateway_apiversion_change", args=[version.pk])
    upload = SimpleUploadedFile("orders.json", _DOC, content_type="application/json")

    response = admin_client.post(url, _version_form(version, openapi_upload=upload))

    assert response.status_code == 302, response.context and response.context["errors"]
    version.refresh_from_db()
    assert '"title": "Orders"' in version.openapi_document


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"swagger": "2.0", "info": {}, "paths": {}}', "only OpenAPI 3"),
        (b"\xff\xfe not text", "not UTF-8"),
        (b'{"openapi": "3.0.3", "paths": {}}', "not a valid OpenAPI"),
    ],
)
def test_a_bad_openapi_upload_is_a_field_error_and_changes_nothing(admin_client, content, says):
    version = factories.api_version()
    url = reverse("admin:gateway_apiversion_change", args=[version.pk])
    upload = SimpleUploadedFile("doc.json", content)

    response = admin_client.post(url, _version_form(version, openapi_upload=upload))

    assert response.status_code == 200
    assert says in " ".join(response.context["adminform"].form.errors["openapi_upload"])
    version.refresh_from_db()
    assert version.openapi_document == ""


def test_a_bad_openapi_document_typed_in_is_refused_on_its_field(admin_client):
    version = factories.api_version()
    url = reverse("admin:gateway_apiversion_change", args=[version.pk])

    response = admin_client.post(url, _version_form(version, openapi_document="openapi: ["))

    assert response.status_code == 200
    assert "openapi_document" in response.context["adminform"].form.errors


def test_approving_a_limit_request_in_admin_writes_the_overrides(admin_client, admin_user):
    subscription = factories.subscription()
    request = access.request_limits(
        subscription=subscription,
        by=admin_user,
        windows=[{"requests": 99, "unit": "minute"}],
        quota_requests=None,
        reason="a launch",
    )
    url = reverse("admin:gateway_limitrequest_changelist")

    response = admin_client.post(
        url, {"action": "approve", "_selected_action": [request.pk]}, follow=True
    )

    assert response.status_code == 200
    request.refresh_from_db()
    assert (request.state, request.decided_by) == (LimitRequest.State.APPROVED, admin_user)
    (override,) = subscription.rate_limits.all()
    assert (override.requests, override.window_seconds) == (99, 60)
    assert (
        admin_client.get(
            reverse("admin:gateway_limitrequest_change", args=[request.pk])
        ).status_code
        == 200
    )


def test_rejecting_a_limit_request_writes_no_override(admin_client, admin_user):
    subscription = factories.subscription()
    request = access.request_limits(
        subscription=subscription,
        by=admin_user,
        windows=[{"requests": 99, "unit": "minute"}],
        quota_requests=500,
        reason="more",
    )
    admin_client.post(
        reverse("admin:gateway_limitrequest_changelist"),
        {"action": "reject", "_selected_action": [request.pk]},
    )
    request.refresh_from_db()
    subscription.refresh_from_db()
    assert request.state == LimitRequest.State.REJECTED
    assert not subscription.rate_limits.exists()
    assert subscription.quota_requests is None


def test_approving_a_pending_subscription_starts_it_now(admin_client):
    plan = factories.plan(requires_approval=True)
    pending = access.subscribe(application=factories.application(), plan=plan)
    active = factories.subscription()
    url = reverse("admin:gateway_subscription_changelist")

    admin_client.post(
        url, {"action": "approve_subscriptions", "_selected_action": [pending.pk, active.pk]}
    )

    pending_before = pending.started_at
    pending.refresh_from_db()
    assert pending.state == Subscription.State.ACTIVE
    assert pending.started_at > pending_before
    assert Subscription.objects.get(pk=active.pk).state == Subscription.State.ACTIVE


def test_the_organization_page_lists_members_and_invitations(admin_client, admin_user):
    org = factories.organization()
    Membership.objects.create(user=admin_user, organization=org, role=Role.OWNER)
    accounts.invite(organization=org, by=admin_user, email="new@example.com", role=Role.BILLING)

    page = admin_client.get(reverse("admin:gateway_organization_change", args=[org.pk]))

    assert page.status_code == 200
    assert b"new@example.com" in page.content
    for name in ("limitrequest", "accesstoken", "membership", "invitation"):
        assert admin_client.get(reverse(f"admin:gateway_{name}_changelist")).status_code == 200

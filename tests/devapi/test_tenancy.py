"""Two organizations, alice's and bob's: every endpoint tried across the line finds
nothing (404, as for a name that does not exist), lists leak nothing, roles short of an
action get 403, and fields a partner must not set are refused, never silently taken."""

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mgmt.analytics.models import UsageDay
from mgmt.gateway.models import (
    ApiKey,
    Application,
    Invitation,
    LimitRequest,
    Membership,
    Role,
    Subscription,
)
from tests.devapi.world import Tenant, World, member, problem, token_client

pytestmark = [pytest.mark.db]


def _endpoints_of(t: Tenant, plan: str) -> list[tuple[str, str, dict[str, object] | None]]:
    """Every operation on another tenant's objects, with a body that would otherwise work."""
    org = f"/api/v1/orgs/{t.org}"
    key = f"{t.app}/keys/{t.key.key_id}"
    limit_request = f"{t.sub}/limit-requests/{t.limit_request.pk}"
    return [
        ("get", org, None),
        ("get", f"{org}/members", None),
        ("get", f"{org}/members/{t.teammate.pk}", None),
        ("patch", f"{org}/members/{t.teammate.pk}", {"role": "owner"}),
        ("delete", f"{org}/members/{t.teammate.pk}", None),
        ("get", f"{org}/invitations", None),
        ("post", f"{org}/invitations", {"email": "mole@example.com", "role": "owner"}),
        ("get", f"{org}/invitations/{t.invitation.pk}", None),
        ("delete", f"{org}/invitations/{t.invitation.pk}", None),
        ("get", f"{org}/applications", None),
        ("post", f"{org}/applications", {"name": "planted"}),
        ("get", t.app, None),
        ("patch", t.app, {"name": "taken over"}),
        ("delete", t.app, None),
        ("get", f"{t.app}/keys", None),
        ("post", f"{t.app}/keys", {"label": "stolen"}),
        ("get", key, None),
        ("delete", key, None),
        ("post", f"{key}/rotate", {"overlap_seconds": 60}),
        ("get", f"{t.app}/subscriptions", None),
        ("post", f"{t.app}/subscriptions", {"plan": plan}),
        ("get", t.sub, None),
        ("delete", t.sub, None),
        ("get", f"{t.sub}/limit-requests", None),
        ("post", f"{t.sub}/limit-requests", {"quota_requests": 10, "reason": "mine now"}),
        ("get", limit_request, None),
        ("delete", limit_request, None),
        ("get", f"{org}/usage", None),
        ("get", f"{t.app}/usage", None),
    ]


def _called_yesterday(t: Tenant, api_id: int) -> None:
    """A day of usage; its count is the application's id, to tell whose it is."""
    yesterday = timezone.now().date() - timedelta(days=1)
    UsageDay.objects.create(
        bucket=datetime.combine(yesterday, time.min, tzinfo=UTC),
        api_id=api_id,
        version_id=1,
        route_id=1,
        application_id=t.application.pk,
        status_class="2xx",
        requests=t.application.pk,
    )


def _snapshot_of(t: Tenant) -> dict[str, object]:
    """What bob has, to compare after alice's attempts."""
    return {
        "apps": list(Application.objects.filter(organization=t.organization).values()),
        "keys": list(ApiKey.objects.filter(application__organization=t.organization).values()),
        "subs": list(Subscription.objects.filter(application=t.application).values()),
        "requests": list(LimitRequest.objects.filter(subscription=t.subscription).values()),
        "members": list(Membership.objects.filter(organization=t.organization).values()),
        "invitations": list(Invitation.objects.filter(organization=t.organization).values()),
    }


def _call(client: APIClient, method: str, path: str, body: dict[str, object] | None):  # type: ignore[no-untyped-def]
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


def test_every_endpoint_of_bobs_organization_is_404_to_alice_and_changes_nothing(world: World):
    before = _snapshot_of(world.bob)
    for method, path, body in _endpoints_of(world.bob, world.free.slug):
        response = _call(world.alice.client, method, path, body)
        assert response.status_code == 404, (method, path, response.content)
        assert problem(response)["type"].endswith("/not-found")
        assert world.bob.application.name not in response.content.decode()  # says nothing of it
    assert _snapshot_of(world.bob) == before


def test_bobs_objects_under_alices_own_organization_are_404_too(world: World):
    alice, bob = world.alice, world.bob
    org = f"/api/v1/orgs/{alice.org}"
    crossings = [
        ("get", f"{org}/members/{bob.teammate.pk}", None),
        ("patch", f"{org}/members/{bob.teammate.pk}", {"role": "billing"}),
        ("delete", f"{org}/members/{bob.teammate.pk}", None),
        ("get", f"{org}/invitations/{bob.invitation.pk}", None),
        ("delete", f"{org}/invitations/{bob.invitation.pk}", None),
        ("get", f"{org}/applications/{bob.application.public_id}", None),
        ("delete", f"{org}/applications/{bob.application.public_id}", None),
        ("get", f"{alice.app}/keys/{bob.key.key_id}", None),
        ("delete", f"{alice.app}/keys/{bob.key.key_id}", None),
        ("post", f"{alice.app}/keys/{bob.key.key_id}/rotate", {"overlap_seconds": 0}),
        ("get", f"{alice.app}/subscriptions/{bob.subscription.pk}", None),
        ("delete", f"{alice.app}/subscriptions/{bob.subscription.pk}", None),
        ("get", f"{alice.sub}/limit-requests/{bob.limit_request.pk}", None),
        ("delete", f"{alice.sub}/limit-requests/{bob.limit_request.pk}", None),
        ("get", f"{bob.sub.replace(bob.app, alice.app)}/limit-requests", None),
        ("get", f"{org}/applications/{bob.application.public_id}/usage", None),
    ]
    before = _snapshot_of(bob)
    for method, path, body in crossings:
        response = _call(alice.client, method, path, body)
        assert response.status_code == 404, (method, path, response.content)
    assert _snapshot_of(bob) == before
    bobs_token = bob.client  # a token id of bob's is no token of alice's
    token_id = json.loads(bobs_token.get("/api/v1/auth/tokens").content)["results"][0]["token_id"]
    assert alice.client.delete(f"/api/v1/auth/tokens/{token_id}").status_code == 404
    assert bob.client.get("/api/v1/me").status_code == 200


def test_alices_lists_show_nothing_of_bobs(world: World):
    alice, bob = world.alice, world.bob
    for tenant in (alice, bob):  # both called yesterday: bob's calls must not show
        _called_yesterday(tenant, world.version.api.pk)
    secrets_of_bob = [
        bob.org,
        bob.application.public_id,
        bob.key.key_id,
        bob.user.email,
        bob.invitation.email,
        bob.teammate.user.email,
    ]
    org = f"/api/v1/orgs/{alice.org}"
    for path in [
        "/api/v1/me",
        "/api/v1/auth/tokens",
        org,
        f"{org}/members",
        f"{org}/invitations",
        f"{org}/applications",
        f"{alice.app}/keys",
        f"{alice.app}/subscriptions",
        f"{alice.sub}/limit-requests",
        f"{org}/usage",
        f"{alice.app}/usage",
        "/api/v1/catalog/products",
    ]:
        response = alice.client.get(path)
        assert response.status_code == 200, (path, response.content)
        text = response.content.decode()
        assert not [s for s in secrets_of_bob if s in text], (path, text)
    apps = alice.client.get(f"{org}/applications").json()
    assert [a["public_id"] for a in apps["results"]] == [alice.application.public_id]
    usage = alice.client.get(f"{org}/usage").json()
    assert [(r["application"], r["calls"]) for r in usage["results"]] == [
        (alice.application.public_id, alice.application.pk)
    ]


def test_protected_fields_are_refused_with_field_errors_and_nothing_is_written(world: World):
    alice = world.alice
    before = Application.objects.values().get(pk=alice.application.pk)
    response = alice.client.patch(
        alice.app,
        {
            "name": "renamed",
            "organization": world.bob.org,
            "public_id": "app_mine",
            "created_at": "2020-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    errors = problem(response)["errors"]
    assert set(errors) == {"organization", "public_id", "created_at"}
    assert Application.objects.values().get(pk=alice.application.pk) == before

    attempts = [
        (f"/api/v1/orgs/{alice.org}/applications", {"name": "x", "organization": world.bob.org}),
        (f"{alice.app}/subscriptions", {"plan": world.approval.slug, "state": "active"}),
        (f"{alice.app}/keys", {"label": "x", "key_id": "chosen", "revoked_at": None}),
        (f"{alice.sub}/limit-requests", {"reason": "r", "quota_requests": 5, "state": "approved"}),
        (
            "/api/v1/auth/signup",
            {
                "email": "e@example.com",
                "password": "p" * 12,
                "organization_name": "O",
                "is_staff": True,
            },
        ),
    ]
    for path, body in attempts:
        client = APIClient() if "signup" in path else alice.client
        response = client.post(path, body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert problem(response)["errors"], path
    assert not Application.objects.filter(name="x").exists()
    assert Subscription.objects.filter(application=alice.application).count() == 1
    assert not ApiKey.objects.filter(label="x").exists()
    assert LimitRequest.objects.filter(subscription=alice.subscription).count() == 1

    patched = alice.client.patch(
        f"/api/v1/orgs/{alice.org}/members/{alice.teammate.pk}",
        {"role": "owner", "user": world.bob.user.pk},
        format="json",
    )
    assert patched.status_code == 400
    assert Membership.objects.get(pk=alice.teammate.pk).role == Role.DEVELOPER


def test_a_billing_member_reads_but_writes_nothing(world: World):
    alice = world.alice
    user, _ = member(alice.organization, "alice-billing@example.com", Role.BILLING)
    billing = token_client(user)
    org = f"/api/v1/orgs/{alice.org}"
    for path in [
        org,
        f"{org}/members",
        f"{org}/applications",
        f"{alice.app}/keys",
        f"{alice.app}/subscriptions",
        f"{org}/usage",
        f"{alice.app}/usage",
    ]:
        assert billing.get(path).status_code == 200, path
    writes = [
        ("post", f"{org}/applications", {"name": "billing app"}),
        ("patch", alice.app, {"name": "renamed"}),
        ("delete", alice.app, None),
        ("post", f"{alice.app}/keys", {"label": "b"}),
        ("delete", f"{alice.app}/keys/{alice.key.key_id}", None),
        ("post", f"{alice.app}/keys/{alice.key.key_id}/rotate", {"overlap_seconds": 1}),
        ("post", f"{alice.app}/subscriptions", {"plan": world.approval.slug}),
        ("delete", alice.sub, None),
        ("post", f"{alice.sub}/limit-requests", {"quota_requests": 5, "reason": "r"}),
        ("post", f"{org}/invitations", {"email": "x@example.com", "role": "owner"}),
        ("patch", f"{org}/members/{alice.teammate.pk}", {"role": "owner"}),
    ]
    before = _snapshot_of(alice)
    for method, path, body in writes:
        response = _call(billing, method, path, body)
        assert response.status_code == 403, (method, path, response.content)
        assert problem(response)["type"].endswith("/forbidden")
    assert _snapshot_of(alice) == before


def test_a_developer_manages_applications_but_not_members(world: World):
    alice = world.alice
    developer = token_client(alice.teammate.user)
    org = f"/api/v1/orgs/{alice.org}"
    assert (
        developer.post(f"{org}/applications", {"name": "dev app"}, format="json").status_code == 201
    )
    owner_membership = Membership.objects.get(user=alice.user)
    for method, path, body in [
        ("post", f"{org}/invitations", {"email": "y@example.com", "role": "owner"}),
        ("patch", f"{org}/members/{owner_membership.pk}", {"role": "billing"}),
        ("delete", f"{org}/members/{owner_membership.pk}", None),
        ("delete", f"{org}/invitations/{alice.invitation.pk}", None),
    ]:
        assert _call(developer, method, path, body).status_code == 403, (method, path)
    # Leaving is one's own choice.
    assert developer.delete(f"{org}/members/{alice.teammate.pk}").status_code == 204
    assert not Membership.objects.filter(pk=alice.teammate.pk).exists()
    assert developer.get(org).status_code == 404


def test_without_credentials_every_organization_endpoint_is_401_with_a_bearer_challenge(
    world: World,
):
    anonymous = APIClient()
    everything = [
        *_endpoints_of(world.alice, world.free.slug),
        ("get", "/api/v1/me", None),
        ("get", "/api/v1/catalog/products", None),
    ]
    for method, path, body in everything:
        response = _call(anonymous, method, path, body)
        assert response.status_code == 401, (method, path)
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert problem(response)["type"].endswith("/unauthenticated")

"""What a security review of the developer API found, each kept fixed: expiries the
database cannot read back, suspensions undone by the partner, drafts for sale, key caps
bypassed by rotation, documents re-parsed per request."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mgmt.developers import selectors
from mgmt.developers.access import MAX_OPEN_KEYS_PER_APPLICATION
from mgmt.gateway import services
from mgmt.gateway.models import ApiKey, ApiVersion, Subscription
from tests.devapi.world import World, problem
from tests.mgmt import factories

pytestmark = [pytest.mark.db]


def test_an_expiry_past_what_the_database_reads_back_is_refused(world: World):
    keys = f"{world.alice.app}/keys"
    for far in [
        "9999-12-31T23:59:59-05:00",
        (timezone.now() + timedelta(days=11 * 366)).isoformat(),
    ]:
        response = world.alice.client.post(keys, {"expires_at": far}, format="json")
        assert response.status_code == 400, far
        assert "expires_at" in problem(response)["errors"]
    assert world.alice.client.get(keys).status_code == 200  # the list still reads


def test_a_suspended_subscription_cannot_be_cancelled_and_taken_again(world: World):
    alice = world.alice
    Subscription.objects.filter(pk=alice.subscription.pk).update(state=Subscription.State.SUSPENDED)
    cancelled = alice.client.delete(alice.sub)
    assert cancelled.status_code == 403
    assert "suspended" in problem(cancelled)["detail"]
    again = alice.client.post(
        f"{alice.app}/subscriptions", {"plan": world.free.slug}, format="json"
    )
    assert again.status_code == 400
    assert Subscription.objects.get(pk=alice.subscription.pk).state == Subscription.State.SUSPENDED


def test_a_plan_of_a_product_with_only_drafts_is_not_for_sale(world: World):
    draft = factories.api_version(lifecycle=ApiVersion.Lifecycle.DRAFT)
    factories.plan(product=draft.api.product, slug="prelaunch", public=True)
    alice = world.alice
    response = alice.client.post(f"{alice.app}/subscriptions", {"plan": "prelaunch"}, format="json")
    assert response.status_code == 404
    assert alice.client.get(f"/api/v1/catalog/products/{draft.api.product.slug}").status_code == 404


def test_rotation_keeps_to_the_key_cap_and_to_the_keys_lifetime(world: World):
    alice = world.alice
    keys = f"{alice.app}/keys"
    expiring = alice.client.post(
        keys, {"expires_at": (timezone.now() + timedelta(days=30)).isoformat()}, format="json"
    ).json()
    rotated = alice.client.post(
        f"{keys}/{expiring['key_id']}/rotate", {"overlap_seconds": 60}, format="json"
    ).json()
    ends = parse_datetime(rotated["expires_at"])
    assert ends is not None
    assert abs(ends - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    while (
        alice.application.keys.filter(revoked_at__isnull=True).count()
        < MAX_OPEN_KEYS_PER_APPLICATION
    ):
        services.create_api_key(application=alice.application)
    refused = alice.client.post(
        f"{keys}/{rotated['key_id']}/rotate", {"overlap_seconds": 60}, format="json"
    )
    assert refused.status_code == 400 and "key" in problem(refused)["errors"]
    assert (
        ApiKey.objects.filter(application=alice.application).count()
        == MAX_OPEN_KEYS_PER_APPLICATION
    )


def test_a_stored_document_is_parsed_once_per_content(world: World, monkeypatch: Any):
    calls: list[str] = []
    real = selectors.load_stored_document

    def counting(text: str) -> dict[str, Any]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(selectors, "load_stored_document", counting)
    path = f"/api/v1/catalog/apis/{world.version.api.slug}/versions/{world.version.version}/openapi"
    first = world.alice.client.get(path).json()
    assert world.alice.client.get(path).json() == first
    assert len(calls) == 1
    listed = world.alice.client.get("/api/v1/catalog/products").json()["results"]
    (version,) = [v for p in listed for a in p["apis"] for v in a["versions"]]
    assert version["openapi_url"] == path


def test_portal_paths_no_database_could_look_up_are_404(world: World):
    client = Client()
    client.force_login(world.alice.user)
    base = f"/portal/orgs/{world.alice.org}/applications"
    for path in [
        f"{base}/%00",
        f"{base}/{world.alice.application.public_id}/keys/%00/revoke",
        "/portal/docs/x/%00",
        f"{base}/{world.alice.application.public_id}/subscriptions/{'9' * 30}",
    ]:
        assert client.get(path).status_code == 404, path

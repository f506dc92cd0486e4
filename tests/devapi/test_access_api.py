"""Applications, keys, subscriptions and limit requests through the developer API, and the
API owner's decisions (taken in admin) as the partner then sees them."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mgmt.developers import access
from mgmt.gateway.models import ApiKey, LimitRequest, Subscription
from tests.devapi.world import World, problem
from tests.mgmt import factories

pytestmark = [pytest.mark.db]


def test_application_create_change_and_delete(world: World):
    client, org = world.alice.client, world.alice.org
    created = client.post(
        f"/api/v1/orgs/{org}/applications",
        {"name": "Checkout", "description": "web shop", "contact_email": "ops@alice.example"},
        format="json",
    )
    assert created.status_code == 201
    app = created.json()
    assert app["public_id"].startswith("app_") and app["organization"] == org
    path = f"/api/v1/orgs/{org}/applications/{app['public_id']}"
    changed = client.patch(path, {"description": "the web shop"}, format="json")
    assert changed.json()["description"] == "the web shop"
    assert changed.json()["name"] == "Checkout"
    duplicate = client.post(f"/api/v1/orgs/{org}/applications", {"name": "CHECKOUT"}, format="json")
    assert duplicate.status_code == 400 and "name" in problem(duplicate)["errors"]
    renamed = client.patch(path, {"name": "alice APP"}, format="json")  # alice's other app
    assert renamed.status_code == 400 and "name" in problem(renamed)["errors"]
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_a_key_secret_is_shown_once_and_listed_by_prefix_only(world: World):
    client, keys = world.alice.client, f"{world.alice.app}/keys"
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    issued = client.post(keys, {"label": "ci", "expires_at": expires}, format="json")
    assert issued.status_code == 201 and issued["Cache-Control"] == "no-store"
    body = issued.json()
    assert body["key"].startswith(body["prefix"]) and body["state"] == "expiring"
    stored = ApiKey.objects.get(key_id=body["key_id"])
    assert body["key"].encode() not in bytes(stored.key_hash)
    for listing in (client.get(keys), client.get(f"{keys}/{body['key_id']}")):
        assert body["key"] not in listing.content.decode()
        assert "key" not in (listing.json().get("results") or [listing.json()])[0]
    past = client.post(keys, {"expires_at": "2001-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 400 and "expires_at" in problem(past)["errors"]


def test_rotation_issues_a_new_key_and_the_old_one_expires_after_the_overlap(world: World):
    client, keys = world.alice.client, f"{world.alice.app}/keys"
    old = world.alice.key.key_id
    before = timezone.now()
    rotated = client.post(f"{keys}/{old}/rotate", {"overlap_seconds": 3600}, format="json")
    assert rotated.status_code == 201
    body = rotated.json()
    assert body["key_id"] != old and body["rotated_from"] == old and body["key"]
    assert body["previous"]["key_id"] == old and body["previous"]["state"] == "expiring"
    ends = parse_datetime(body["previous"]["expires_at"])
    assert ends is not None
    assert before + timedelta(seconds=3599) <= ends <= timezone.now() + timedelta(seconds=3601)

    assert client.delete(f"{keys}/{old}").status_code == 204
    assert client.delete(f"{keys}/{old}").status_code == 204  # twice is harmless
    again = client.post(f"{keys}/{old}/rotate", {"overlap_seconds": 60}, format="json")
    assert again.status_code == 400 and "key" in problem(again)["errors"]
    too_long = client.post(
        f"{keys}/{body['key_id']}/rotate", {"overlap_seconds": 31 * 86400}, format="json"
    )
    assert too_long.status_code == 400 and "overlap_seconds" in problem(too_long)["errors"]
    listed = {k["key_id"]: k["state"] for k in client.get(keys).json()["results"]}
    assert listed == {old: "revoked", body["key_id"]: "active"}


def test_subscriptions_auto_approved_pending_private_and_one_per_product(world: World):
    alice = world.alice
    subs = f"{alice.app}/subscriptions"
    taken = alice.client.post(subs, {"plan": world.approval.slug}, format="json")
    assert taken.status_code == 400 and "plan" in problem(taken)["errors"]  # free is open
    assert alice.client.delete(alice.sub).json()["state"] == "cancelled"
    assert alice.client.delete(alice.sub).json()["state"] == "cancelled"  # harmless twice

    private = alice.client.post(subs, {"plan": world.private.slug}, format="json")
    assert private.status_code == 404
    pending = alice.client.post(subs, {"plan": world.approval.slug}, format="json")
    assert pending.status_code == 201 and pending.json()["state"] == "pending"
    subscription = Subscription.objects.get(pk=pending.json()["id"])
    assert access.decide_subscription(subscription=subscription, approve=True)
    shown = alice.client.get(f"{subs}/{subscription.pk}").json()
    assert shown["state"] == "active" and shown["plan"]["slug"] == world.approval.slug


def test_limits_shown_are_the_plans_with_approved_overrides(world: World):
    alice = world.alice
    factories.plan_rate_limit(plan=world.free, requests=10, unit="second")
    factories.plan_rate_limit(plan=world.free, requests=1000, unit="hour")
    limit_request = LimitRequest.objects.get(pk=alice.limit_request.pk)  # 50/s, pending
    again = alice.client.post(
        f"{alice.sub}/limit-requests", {"quota_requests": 9, "reason": "more"}, format="json"
    )
    assert again.status_code == 400 and "subscription" in problem(again)["errors"]

    assert access.decide_limit_request(limit_request=limit_request, approve=True, by=None)
    shown = alice.client.get(alice.sub).json()
    assert [(w["requests"], w["window_seconds"]) for w in shown["rate_limits"]] == [
        (50, 1),
        (1000, 3600),
    ]
    answered = alice.client.get(f"{alice.sub}/limit-requests/{limit_request.pk}").json()
    assert answered["state"] == "approved"
    withdrawn = alice.client.delete(f"{alice.sub}/limit-requests/{limit_request.pk}")
    assert withdrawn.json()["state"] == "approved"  # an answer stays


def test_a_limit_request_is_checked_and_can_be_withdrawn(world: World):
    alice = world.alice
    requests = f"{alice.sub}/limit-requests"
    alice.client.delete(f"{requests}/{alice.limit_request.pk}")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"reason": "x"}, "windows"),
        ({"windows": [{"requests": 5, "unit": "fortnight"}], "reason": "x"}, "windows.0.unit"),
        (
            {"windows": [{"requests": "many", "unit": "second"}], "reason": "x"},
            "windows.0.requests",
        ),
        (
            {"windows": [{"requests": 5, "unit": "second", "burst": 9}], "reason": "x"},
            "windows.0.burst",
        ),
        (
            {
                "windows": [
                    {"requests": 5, "unit": "minute"},
                    {"requests": 6, "unit": "second", "unit_multiplier": 60},
                ],
                "reason": "x",
            },
            "windows",
        ),
        ({"quota_requests": 5, "reason": "  "}, "reason"),
        ({"quota_requests": 0, "reason": "x"}, "quota_requests"),
        ({"windows": "50/s", "reason": "x"}, "windows"),
    ]
    for body, field in bad:
        response = alice.client.post(requests, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in problem(response)["errors"], (body, response.json())
    assert not LimitRequest.objects.filter(
        subscription=alice.subscription, state=LimitRequest.State.PENDING
    ).exists()
    made = alice.client.post(
        requests,
        {
            "windows": [{"requests": 500, "unit": "minute"}],
            "quota_requests": 100000,
            "reason": "launch",
        },
        format="json",
    )
    assert made.status_code == 201 and made.json()["state"] == "pending"
    gone = alice.client.delete(f"{requests}/{made.json()['id']}")
    assert gone.json()["state"] == "withdrawn"

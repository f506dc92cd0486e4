"""A partner onboards through the developer API alone and calls the gateway: sign up,
verify, token, application, key, subscription, call (200), rotate, revoke (401); and asks
for higher limits, which an API owner approves in admin and the gateway then applies."""

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from tests.e2e.conftest import wait_until
from tests.e2e.http import request
from tests.e2e.test_rate_limits import first_counted_call, metered_plan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROBLEM = "https://tollgate.dev/problems/"


class DeveloperApi:
    """The developer API over real HTTP on the live server, as a partner's script calls it."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.token = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, payload = self.call(method, path, body)
        assert 200 <= status < 300, (method, path, status, payload)
        return payload


def _onboard(api: DeveloperApi, email: str, org_name: str) -> str:
    """Sign up, verify from the mail, take a token; the organization's slug."""
    mail.outbox.clear()
    api.ok(
        "POST",
        "/auth/signup",
        {"email": email, "password": "a long partner passphrase", "organization_name": org_name},
    )
    (message,) = [m for m in mail.outbox if email in m.to]
    token = re.search(r"/portal/verify#(\S+)", message.body)
    assert token is not None, message.body
    api.ok("POST", "/auth/verify-email", {"token": token.group(1)})
    issued = api.ok(
        "POST",
        "/auth/tokens",
        {"email": email, "password": "a long partner passphrase", "label": "e2e"},
    )
    api.token = issued["token"]
    (org,) = api.ok("GET", "/me")["organizations"]
    return str(org["slug"])


def _free_plan(api: DeveloperApi) -> str:
    products = api.ok("GET", "/catalog/products")
    items = products["results"] if isinstance(products, dict) else products
    (demo,) = [p for p in items if p["slug"] == "demo"]
    (free,) = [p for p in demo["plans"] if p["slug"] == "free"]
    return str(free["slug"])


def _status(port: int, key: str) -> int:
    return request(port, "/demo/hello", {"x-api-key": key}).status


def test_sign_up_to_first_call_through_envoy_then_revoke_is_401(gateway, scenario):
    api = DeveloperApi(gateway.mgmt_url)
    org = _onboard(api, "newcomer@example.com", "Newcomer Inc")
    app = api.ok("POST", f"/orgs/{org}/applications", {"name": "Checkout"})
    apps = f"/orgs/{org}/applications/{app['public_id']}"
    issued = api.ok("POST", f"{apps}/keys", {"label": "prod"})
    key = issued["key"]
    listed = api.ok("GET", f"{apps}/keys")
    assert key not in json.dumps(listed)

    port = gateway.ports.gateway
    # Not subscribed yet: the gateway knows the key but not the right to call.
    wait_until(lambda: _status(port, key) == 403, timeout=5, what="the new key is known")
    api.ok("POST", f"{apps}/subscriptions", {"plan": _free_plan(api)})
    wait_until(lambda: _status(port, key) == 200, timeout=5, what="the subscription admits")
    seen = request(port, "/demo/hello", {"x-api-key": key}).json()
    assert seen["headers"]["x-application-id"] == app["public_id"]
    assert seen["headers"]["x-consumer-id"] == org
    assert seen["headers"]["x-plan"] == "free"

    status, _ = api.call("DELETE", f"{apps}/keys/{issued['key_id']}")
    assert status in (200, 204)
    took = wait_until(lambda: _status(port, key) == 401, timeout=2.0, what="revoked key refused")
    assert took < 2.0
    reply = request(port, "/demo/hello", {"x-api-key": key})
    assert reply.json()["type"] == PROBLEM + "revoked-credentials"


def test_a_rotated_key_and_its_predecessor_both_work_until_the_overlap_ends(gateway, scenario):
    api = DeveloperApi(gateway.mgmt_url)
    org = _onboard(api, "rotator@example.com", "Rotator Ltd")
    app = api.ok("POST", f"/orgs/{org}/applications", {"name": "Batch"})
    apps = f"/orgs/{org}/applications/{app['public_id']}"
    api.ok("POST", f"{apps}/subscriptions", {"plan": _free_plan(api)})
    old = api.ok("POST", f"{apps}/keys", {"label": "batch"})
    port = gateway.ports.gateway
    wait_until(lambda: _status(port, old["key"]) == 200, timeout=5, what="the first key works")

    # Before the call: its answer may wait for a coalesced publication after the overlap began.
    rotated_at = time.monotonic()
    new = api.ok("POST", f"{apps}/keys/{old['key_id']}/rotate", {"overlap_seconds": 3})
    wait_until(lambda: _status(port, new["key"]) == 200, timeout=5, what="the new key works")
    assert _status(port, old["key"]) == 200  # still inside the overlap

    wait_until(lambda: _status(port, old["key"]) == 401, timeout=6, what="the old key expires")
    assert time.monotonic() - rotated_at >= 2.0  # not before its overlap (whole seconds)
    assert request(port, "/demo/hello", {"x-api-key": old["key"]}).json()["type"] == (
        PROBLEM + "expired-credentials"
    )
    assert _status(port, new["key"]) == 200


def test_higher_limits_asked_through_the_api_and_approved_in_admin_apply_at_the_gateway(
    gateway, scenario, admin_client
):
    plan = metered_plan(3)  # per hour
    api = DeveloperApi(gateway.mgmt_url)
    org = _onboard(api, "grower@example.com", "Grower GmbH")
    app = api.ok("POST", f"/orgs/{org}/applications", {"name": "Growing"})
    apps = f"/orgs/{org}/applications/{app['public_id']}"
    subscription = api.ok("POST", f"{apps}/subscriptions", {"plan": plan.slug})
    key = api.ok("POST", f"{apps}/keys", {})["key"]

    first_counted_call(gateway, key)
    statuses = [_status_of(gateway, key) for _ in range(3)]
    assert statuses == [200, 200, 429]

    asked = api.ok(
        "POST",
        f"{apps}/subscriptions/{subscription['id']}/limit-requests",
        {"windows": [{"requests": 50, "unit": "hour"}], "reason": "our launch"},
    )
    assert asked["state"] == "pending"
    assert _status_of(gateway, key) == 429  # asking is not getting

    changelist = reverse("admin:gateway_limitrequest_changelist")
    admin_client.post(changelist, {"action": "approve", "_selected_action": [asked["id"]]})
    wait_until(lambda: _status_of(gateway, key) == 200, timeout=5, what="the new limit applies")
    reply = request(gateway.ports.gateway, "/demo/x", {"x-api-key": key})
    assert "q=50;w=3600" in reply.headers["ratelimit-policy"]
    shown = api.ok("GET", f"{apps}/subscriptions/{subscription['id']}")
    assert [(w["requests"], w["window_seconds"]) for w in shown["rate_limits"]] == [(50, 3600)]
    answered = api.ok("GET", f"{apps}/subscriptions/{subscription['id']}/limit-requests")
    assert answered["results"][0]["state"] == "approved"


def _status_of(gateway: Any, key: str) -> int:
    return request(gateway.ports.gateway, "/demo/x", {"x-api-key": key}).status

"""A write can wait until it is live: a partner subscribes with `Prefer: wait=5` and calls
the gateway at once, and is never refused as not subscribed (without the wait, about one
call in four was: the subscription takes 0.1-0.2 s to reach the gateway)."""

import json
import urllib.request
from typing import Any

import pytest

from mgmt.gateway.models import Snapshot, XdsNodeStatus
from tests.e2e.conftest import wait_until
from tests.e2e.http import request
from tests.e2e.test_developer_flow import DeveloperApi, _free_plan, _onboard
from xds_server import type_urls

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROUNDS = 10


def _post(api: DeveloperApi, path: str, body: dict[str, Any], prefer: str) -> tuple[int, Any]:
    req = urllib.request.Request(
        api.base + path,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {api.token}",
            "Content-Type": "application/json",
            "Prefer": prefer,
        },
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=15) as reply:
        return reply.status, reply.headers


def _sidecar_acked_the_live_snapshot() -> bool:
    live = Snapshot.objects.filter(status="published").latest()
    return XdsNodeStatus.objects.filter(
        type_url=type_urls.APPLICATION_SHARD,
        acked_version=live.type_versions[type_urls.APPLICATION_SHARD],
    ).exists()


# Live means acknowledged by the sidecar over xDS, whichever way Envoy then calls it.
@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_a_subscription_that_waited_for_the_gateways_admits_the_very_next_call(gateway, scenario):
    api = DeveloperApi(gateway.mgmt_url)
    org = _onboard(api, "eager@example.com", "Eager Ltd")
    plan = _free_plan(api)
    # The gateways have reported their ACKs for the scenario: mgmt knows they are connected.
    wait_until(_sidecar_acked_the_live_snapshot, timeout=10, what="the sidecar's ACK")
    port = gateway.ports.gateway

    seen = []
    for n in range(ROUNDS):
        app = api.ok("POST", f"/orgs/{org}/applications", {"name": f"Eager {n}"})
        apps = f"/orgs/{org}/applications/{app['public_id']}"
        key = api.ok("POST", f"{apps}/keys", {"label": "prod"})["key"]

        status, headers = _post(api, f"{apps}/subscriptions", {"plan": plan}, "wait=5")
        reply = request(port, "/demo/hello", {"x-api-key": key})

        assert status == 201
        assert headers["Preference-Applied"] == "wait=5"
        assert headers["Tollgate-Config-Live"] == "true", headers.get("Tollgate-Config-Pending")
        assert headers["Tollgate-Config-Version"]
        seen.append(reply.status)
        assert reply.status != 403, (n, reply.body)
    assert seen == [200] * ROUNDS

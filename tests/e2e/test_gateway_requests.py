"""One real request path: Envoy -> ext_authz -> upstream, configured from Django."""

import pytest

from mgmt.gateway import services
from mgmt.gateway.models import ApiKey
from tests.e2e.conftest import wait_until
from tests.e2e.http import raw, request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PROBLEM = "https://tollgate.dev/problems/"


def test_demo_key_reaches_upstream_with_identity_and_without_the_key(gateway, scenario):
    reply = request(
        gateway.ports.gateway,
        "/demo/hello?x=1",
        {"x-api-key": scenario.demo_key, "x-consumer-id": "forged", "x-plan": "gold"},
    )
    assert reply.status == 200
    seen = reply.json()
    assert seen["upstream"] == "blue"
    assert seen["path"] == "/demo/hello?x=1"
    assert seen["headers"]["x-consumer-id"] == "demo-partner"
    assert seen["headers"]["x-plan"] == "free"
    assert seen["headers"]["x-application-id"].startswith("app_")
    assert "x-api-key" not in seen["headers"]
    assert scenario.demo_key not in reply.body.decode()


def test_bearer_key_is_accepted_and_stripped(gateway, scenario):
    reply = request(
        gateway.ports.gateway, "/demo/", {"authorization": f"Bearer {scenario.demo_key}"}
    )
    assert reply.status == 200
    assert "authorization" not in reply.json()["headers"]


def test_missing_key_gets_401_problem(gateway, scenario):
    reply = request(gateway.ports.gateway, "/demo/hello")
    assert reply.status == 401
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"] == PROBLEM + "missing-credentials"
    assert problem["status"] == 401


def test_unknown_key_gets_401_invalid(gateway, scenario):
    forged = scenario.demo_key[:-4] + "AAAA"
    reply = request(gateway.ports.gateway, "/demo/hello", {"x-api-key": forged})
    assert reply.status == 401
    assert reply.json()["type"] == PROBLEM + "invalid-credentials"


def test_revoked_key_is_refused_within_two_seconds(gateway, scenario):
    api_key = ApiKey.objects.get(key_id=scenario.demo_key[3:15])
    services.revoke_api_key(api_key=api_key)
    took = wait_until(
        lambda: (
            request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key}).status
            == 401
        ),
        timeout=2.0,
        what="revoked key refused",
    )
    reply = request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key})
    assert reply.json()["type"] == PROBLEM + "revoked-credentials"
    assert took < 2.0


def test_application_without_subscription_gets_403(gateway, scenario):
    reply = request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.stranger_key})
    assert reply.status == 403
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"] == PROBLEM + "not-subscribed"


def test_path_outside_every_api_gets_404_problem(gateway, scenario):
    reply = request(gateway.ports.gateway, "/nothing-here", {"x-api-key": scenario.demo_key})
    assert reply.status == 404
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"] == PROBLEM + "unknown-api"


def test_hostile_requests_get_clean_4xx_and_the_sidecar_survives(gateway, scenario):
    port = gateway.ports.gateway
    huge = request(port, "/demo/x", {"x-api-key": scenario.demo_key, "x-big": "a" * 100_000})
    assert huge.status == 431
    non_utf8 = raw(
        port,
        b"GET /demo/x HTTP/1.1\r\nHost: h\r\n"
        b"x-api-key: tg_\xff\xfe\x80key\r\nConnection: close\r\n\r\n",
    )
    assert non_utf8.startswith(b"HTTP/1.1 401") or non_utf8.startswith(b"HTTP/1.1 400"), non_utf8[
        :80
    ]
    no_host = raw(port, b"GET /demo/x HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert no_host.startswith(b"HTTP/1.1 400"), no_host[:80]
    odd_method = raw(port, b"BREW /demo/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert odd_method[:12] in {b"HTTP/1.1 400", b"HTTP/1.1 401", b"HTTP/1.1 405"}, odd_method[:80]
    long_key = request(port, "/demo/x", {"x-api-key": "tg_" + "x" * 8000})
    assert long_key.status == 401
    assert request(port, "/demo/x", {"x-api-key": scenario.demo_key}).status == 200


def test_a_route_identity_sent_by_the_client_is_replaced_and_never_reaches_upstream(
    gateway, scenario
):
    forged = '{"api":"999999","cost":"0","failure":"open","lifecycle":"published"}'
    reply = request(
        gateway.ports.gateway,
        "/demo/hello",
        {"x-api-key": scenario.demo_key, "x-tollgate-route": forged},
    )
    assert reply.status == 200  # the route's own identity decided, not the forged one
    assert "x-tollgate-route" not in reply.json()["headers"]
    # Where no route matched, the client's copy is stripped too: no identity, 404.
    lost = request(
        gateway.ports.gateway,
        "/nowhere",
        {"x-api-key": scenario.demo_key, "x-tollgate-route": forged},
    )
    assert lost.status == 404
    assert lost.json()["type"] == PROBLEM + "unknown-api"

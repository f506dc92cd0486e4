"""Config path: a change in Django reaches the running Envoy without restarting anything."""

import html
import time

import pytest
from django.test import Client

from mgmt.gateway.models import (
    Api,
    ApiVersion,
    Endpoint,
    Organization,
    Product,
    Route,
    Snapshot,
    SnapshotRejection,
    Upstream,
)
from tests.e2e.conftest import wait_until
from tests.e2e.http import request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_new_api_serves_traffic_within_two_seconds(gateway, scenario):
    acme = Organization.objects.get(slug="acme")
    green = Upstream.objects.create(organization=acme, name="green")
    Endpoint.objects.create(upstream=green, host="127.0.0.1", port=gateway.upstream_ports[1])
    api = Api.objects.create(
        organization=acme,
        product=Product.objects.get(slug="demo"),
        name="Orders",
        slug="orders",
        hostnames="orders.example.com",
        base_path="/orders",
    )
    version = ApiVersion.objects.create(
        api=api, version="v2", path_prefix="/v2", lifecycle="published"
    )
    Route.objects.create(api_version=version, path="/items", methods="GET", upstream=green)

    def served() -> bool:
        reply = request(
            gateway.ports.gateway,
            "/orders/v2/items/7",
            {"x-api-key": scenario.demo_key, "host": "orders.example.com"},
        )
        return reply.status == 200 and reply.json()["upstream"] == "green"

    wait_until(served, timeout=2.0, what="new API served")
    wrong_method = request(
        gateway.ports.gateway,
        "/orders/v2/items/7",
        {"x-api-key": scenario.demo_key, "host": "orders.example.com", "content-length": "0"},
        method="POST",
    )
    assert wrong_method.status == 404
    # The demo API has no hostname, so it still answers on the new host too.
    assert (
        request(
            gateway.ports.gateway,
            "/demo/x",
            {"x-api-key": scenario.demo_key, "host": "orders.example.com"},
        ).status
        == 200
    )


def test_endpoint_change_moves_traffic(gateway, scenario):
    endpoint = Endpoint.objects.get(upstream__name="demo")
    endpoint.port = gateway.upstream_ports[1]
    endpoint.save()
    wait_until(
        lambda: (
            request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key})
            .json()
            .get("upstream")
            == "green"
        ),
        timeout=2.0,
        what="traffic moved to the new endpoint",
    )


def test_config_envoy_rejects_is_nacked_shown_in_admin_and_last_good_keeps_serving(
    gateway, scenario, django_user_model
):
    version = ApiVersion.objects.get(api__slug="demo", version="v1")
    upstream = Upstream.objects.get(name="demo")
    # Saved without full_clean, as a script might. Python's re accepts look-ahead; RE2 does not.
    Route.objects.create(
        api_version=version, match_type="regex", path="/(?=admin).*", upstream=upstream
    )
    rejected = Snapshot.objects.filter(status="published").latest()

    wait_until(SnapshotRejection.objects.exists, timeout=5.0, what="Envoy NACK recorded")
    rejection = SnapshotRejection.objects.get()
    assert rejection.node_id == "gateway-1"
    assert rejection.type_url.endswith("RouteConfiguration")
    assert "regex" in rejection.error.lower() or "invalid" in rejection.error.lower()
    assert list(rejected.rejections()) == [rejection]

    assert request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key}).status == 200
    time.sleep(1.0)
    assert SnapshotRejection.objects.count() == 1, "the rejected version was sent again"

    admin = django_user_model.objects.get(username="admin")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/gateway/snapshot/{rejected.pk}/change/")
    assert page.status_code == 200
    assert "gateway-1" in page.content.decode()
    assert rejection.error[:40] in html.unescape(page.content.decode())

"""An upstream's TLS on its admin page: the CA bundle checked, the name a hostname."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from mgmt.gateway.models import Endpoint, Organization, Upstream
from mgmt.tls.local_ca import new_local_ca
from mgmt.tls.models import UpstreamTls

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream() -> Upstream:
    org = Organization.objects.create(name="Acme", slug="acme")
    upstream = Upstream.objects.create(organization=org, name="orders")
    Endpoint.objects.create(upstream=upstream, host="10.0.0.7", port=443)
    return upstream


def _post(client: Client, upstream: Upstream, **tls: str) -> Any:
    endpoint = upstream.endpoints.get()
    data = {
        "organization": upstream.organization_id,
        "name": upstream.name,
        "lb_policy": "ROUND_ROBIN",
        "connect_timeout_ms": 1000,
        "health_check_interval_ms": 5000,
        "health_check_timeout_ms": 1000,
        "unhealthy_threshold": 3,
        "healthy_threshold": 2,
        "endpoints-TOTAL_FORMS": 1,
        "endpoints-INITIAL_FORMS": 1,
        "endpoints-0-id": endpoint.pk,
        "endpoints-0-upstream": upstream.pk,
        "endpoints-0-host": endpoint.host,
        "endpoints-0-port": endpoint.port,
        "endpoints-0-weight": endpoint.weight,
        "tls-TOTAL_FORMS": 1,
        "tls-INITIAL_FORMS": 0,
        **{f"tls-0-{k}": v for k, v in tls.items()},
    }
    return client.post(f"/admin/gateway/upstream/{upstream.pk}/change/", data)


def _tls_errors(response: Any) -> list[dict[str, list[str]]]:
    assert response.status_code == 200, "shown again with its errors"
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    return [dict(e) for e in formsets["tls"].errors]


def test_tls_with_its_ca_is_saved_on_the_upstream(admin_client: Client, upstream: Upstream) -> None:
    ca = new_local_ca(now=datetime.now(UTC))
    response = _post(
        admin_client, upstream, sni="Orders.Internal", verify="on", ca_bundle_pem=ca.cert_pem
    )
    assert response.status_code == 302
    tls = UpstreamTls.objects.get(upstream=upstream)
    assert tls.sni == "orders.internal" and tls.verify and "BEGIN CERTIFICATE" in tls.ca_bundle_pem


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"sni": "not a host", "verify": "on"}, "sni", "is not a valid hostname"),
        (
            {"sni": "a.internal", "verify": "on", "ca_bundle_pem": "junk"},
            "ca_bundle_pem",
            "not a PEM",
        ),
        (
            {"sni": "a.internal", "ca_bundle_pem": "CA"},
            "ca_bundle_pem",
            "only used when verifying",
        ),
    ],
    ids=["bad-sni", "bad-bundle", "bundle-without-verify"],
)
def test_bad_tls_settings_are_refused_on_their_field(
    admin_client: Client, upstream: Upstream, fields: dict[str, str], field: str, message: str
) -> None:
    if fields.get("ca_bundle_pem") == "CA":
        fields["ca_bundle_pem"] = new_local_ca(now=datetime.now(UTC)).cert_pem
    (errors,) = _tls_errors(_post(admin_client, upstream, **fields))
    assert message in errors[field][0]
    assert not UpstreamTls.objects.exists()


def test_an_expired_ca_bundle_is_refused(admin_client: Client, upstream: Upstream) -> None:
    old = new_local_ca(now=datetime.now(UTC) - timedelta(days=40), days=30)
    (errors,) = _tls_errors(
        _post(admin_client, upstream, sni="a.internal", verify="on", ca_bundle_pem=old.cert_pem)
    )
    assert "every certificate of the bundle has expired" in errors["ca_bundle_pem"][0]

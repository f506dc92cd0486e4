"""An upstream's TLS on its admin page: the CA bundle checked, the name a hostname; a client
certificate for upstream mTLS checked, its key sealed to the upstream's id and never shown
again, kept on edit, removable, and refused at publication when it no longer opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from mgmt.compiler.upstream_tls import client_secret_name
from mgmt.gateway import publishing
from mgmt.gateway.models import Endpoint, Organization, Snapshot, Upstream
from mgmt.tls.local_ca import LocalCa, issue_client_certificate, new_local_ca
from mgmt.tls.models import UpstreamTls
from xds_server import sealing

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream() -> Upstream:
    org = Organization.objects.create(name="Acme", slug="acme")
    upstream = Upstream.objects.create(organization=org, name="orders")
    Endpoint.objects.create(upstream=upstream, host="10.0.0.7", port=443)
    return upstream


def _post(client: Client, upstream: Upstream, **tls: str) -> Any:
    existing = UpstreamTls.objects.filter(upstream=upstream).first()
    if existing is not None:
        tls = {"id": str(existing.pk), "upstream": str(upstream.pk), **tls}
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
        "tls-INITIAL_FORMS": 1 if existing is not None else 0,
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


NOW = datetime.now(UTC)


@pytest.fixture
def client_ca() -> LocalCa:
    return new_local_ca(now=NOW - timedelta(days=1), name="Orders clients CA")


def _opened_key(upstream: Upstream, key_file: Path) -> bytes:
    tls = UpstreamTls.objects.get(upstream=upstream)
    return sealing.open_sealed(
        sealing.parse_key(key_file.read_text()),
        client_secret_name(upstream.pk),
        bytes(tls.client_sealed_key),
    )


def _renewed(chain_pem: str, key_pem: str, ca: LocalCa) -> str:
    """The same subject and key in a new certificate (a renewal that kept its key)."""
    old = x509.load_pem_x509_certificate(chain_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    renewed = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(minutes=1))
        .not_valid_after(NOW + timedelta(days=90))
        .sign(ca_key, hashes.SHA256())
    )
    return renewed.public_bytes(serialization.Encoding.PEM).decode()


def test_a_client_certificate_is_stored_sealed_to_the_upstreams_id_and_never_shown(
    admin_client: Client, upstream: Upstream, client_ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_client_certificate(client_ca, "gateway.acme.example", now=NOW)
    encrypted = (
        serialization.load_pem_private_key(key.encode(), password=None)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
        .decode()
    )
    response = _post(
        admin_client,
        upstream,
        sni="orders.internal",
        verify="on",
        client_certificate_chain=chain,
        client_private_key=encrypted,
        client_key_password="s3cret",
    )
    assert response.status_code == 302
    tls = UpstreamTls.objects.get(upstream=upstream)
    assert tls.client_subject == "CN=gateway.acme.example"
    assert b"PRIVATE KEY" not in bytes(tls.client_sealed_key)
    assert b"PRIVATE KEY" in _opened_key(upstream, sealing_key_file)
    page = admin_client.get(f"/admin/gateway/upstream/{upstream.pk}/change/").content.decode()
    assert "CN=gateway.acme.example" in page and tls.client_fingerprint_sha256 in page
    assert "PRIVATE KEY" not in page and key.splitlines()[1] not in page


@pytest.mark.parametrize(
    ("which", "field", "message"),
    [
        ("other-key", "client_private_key", "the private key does not match the certificate"),
        ("expired", "client_certificate_chain", "the certificate expired on"),
        ("key-only", "client_certificate_chain", "Give the certificate chain (PEM) with its key"),
        ("chain-only", "client_private_key", "Give the certificate's private key (PEM)"),
    ],
)
def test_a_bad_client_certificate_is_refused_on_its_field_and_its_key_not_echoed(
    admin_client: Client,
    upstream: Upstream,
    *,
    client_ca: LocalCa,
    sealing_key_file: Path,
    which: str,
    field: str,
    message: str,
) -> None:
    chain, key = issue_client_certificate(client_ca, "gateway", now=NOW)
    if which == "other-key":
        key = issue_client_certificate(client_ca, "gateway", now=NOW)[1]
    elif which == "expired":
        old_ca = new_local_ca(now=NOW - timedelta(days=400))
        chain, key = issue_client_certificate(
            old_ca, "gateway", now=NOW - timedelta(days=100), days=30
        )
    elif which == "key-only":
        chain = ""
    elif which == "chain-only":
        key = ""
    response = _post(
        admin_client,
        upstream,
        sni="orders.internal",
        verify="on",
        client_certificate_chain=chain,
        client_private_key=key,
    )
    (errors,) = _tls_errors(response)
    assert message in errors[field][0]
    if key:
        assert key.splitlines()[1] not in response.content.decode()
    assert not UpstreamTls.objects.exists()


def test_on_edit_an_empty_key_keeps_the_stored_one_and_the_certificate_can_be_removed(
    admin_client: Client, upstream: Upstream, client_ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_client_certificate(client_ca, "gateway", now=NOW)
    plain = {"sni": "orders.internal", "verify": "on"}
    fields = {**plain, "client_certificate_chain": chain, "client_private_key": key}
    assert _post(admin_client, upstream, **fields).status_code == 302
    first = UpstreamTls.objects.get()
    sealed = bytes(first.client_sealed_key)

    # Other settings edited, the certificate fields left empty: nothing of it changes.
    assert _post(admin_client, upstream, **{**plain, "http2": "on"}).status_code == 302
    kept = UpstreamTls.objects.get()
    assert kept.http2 and bytes(kept.client_sealed_key) == sealed
    assert kept.client_fingerprint_sha256 == first.client_fingerprint_sha256

    # A renewed chain for the same key, the key left empty: checked against the stored key.
    renewed = _renewed(chain, key, client_ca)
    response = _post(admin_client, upstream, **plain, client_certificate_chain=renewed)
    assert response.status_code == 302
    assert UpstreamTls.objects.get().client_fingerprint_sha256 != first.client_fingerprint_sha256
    assert _opened_key(upstream, sealing_key_file).strip() == key.strip().encode()
    # A chain for another key, with no key given: refused, it does not fit the stored one.
    other, _ = issue_client_certificate(client_ca, "gateway", now=NOW)
    (errors,) = _tls_errors(_post(admin_client, upstream, **plain, client_certificate_chain=other))
    assert "not for the stored private key" in errors["client_certificate_chain"][0]

    response = _post(admin_client, upstream, **plain, remove_client_certificate="on")
    assert response.status_code == 302
    removed = UpstreamTls.objects.get()
    assert not removed.has_client_certificate and not bytes(removed.client_sealed_key)
    assert removed.client_not_after is None and removed.sni == "orders.internal"


def test_a_client_key_that_no_longer_opens_is_refused_at_publication_naming_the_upstream(
    admin_client: Client, upstream: Upstream, client_ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_client_certificate(client_ca, "gateway", now=NOW)
    fields = {"sni": "orders.internal", "verify": "on"}
    response = _post(
        admin_client, upstream, **fields, client_certificate_chain=chain, client_private_key=key
    )
    assert response.status_code == 302
    sealing_key_file.write_text(sealing.new_key_text())  # the key file replaced
    refused = publishing.publish_snapshot()
    assert refused.status == Snapshot.Status.REFUSED
    assert 'upstream "orders" (TLS client certificate): its private key does not open' in (
        refused.errors
    )


def test_a_client_certificate_about_to_expire_is_warned_about_with_the_certificates(
    admin_client: Client, upstream: Upstream, client_ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_client_certificate(client_ca, "gateway", now=NOW, days=10)
    fields = {"sni": "orders.internal", "verify": "on"}
    _post(admin_client, upstream, **fields, client_certificate_chain=chain, client_private_key=key)
    response = admin_client.get("/admin/tls/servercertificate/")
    warnings = [str(m) for m in response.context["messages"]]
    assert any('TLS client certificate of upstream "orders" expires in' in w for w in warnings), (
        warnings
    )
    page = admin_client.get(f"/admin/gateway/upstream/{upstream.pk}/change/").content.decode()
    assert "expires in" in page

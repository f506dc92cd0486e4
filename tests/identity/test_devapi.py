"""The developer API's client certificates and token clients: registered by PEM or
fingerprint, refused in words on the field at fault, revoked with DELETE, and reached only
through the caller's own organization and a role that allows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache

from mgmt.gateway.models import Role
from mgmt.identity import services
from mgmt.identity.client_cert_checks import colon_hex
from mgmt.identity.models import ClientCertificate
from tests.devapi.world import World, build_world, member, token_client
from tests.identity.material import certificate, der_sha256, ec_key, pem, private_key_pem, rsa_key

pytestmark = [pytest.mark.db, pytest.mark.django_db]
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _quick(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TOLLGATE_AUTO_PUBLISH = False
    cache.clear()


@pytest.fixture
def world() -> World:
    return build_world()


def certs(world: World) -> str:
    return f"{world.alice.app}/client-certificates"


def field_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    errors: dict[str, list[str]] = response.json()["errors"]
    return errors


def test_a_certificate_registered_by_pem_is_described_and_listed(world: World) -> None:
    cert = certificate(now=NOW, days=60)
    created = world.alice.client.post(
        certs(world), {"name": "prod", "certificate_pem": pem(cert)}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["fingerprint_sha256"] == colon_hex(der_sha256(cert))
    assert body["subject"] == "CN=checkout.partner.example"
    assert body["state"] == "active" and body["name"] == "prod" and body["revoked_at"] is None
    assert body["not_after"].startswith(f"{cert.not_valid_after_utc:%Y-%m-%d}")
    listed = world.alice.client.get(certs(world)).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    one = world.alice.client.get(f"{certs(world)}/{body['id']}")
    assert one.status_code == 200 and one.json() == body


def test_a_certificate_registered_by_fingerprint_has_no_expiry(world: World) -> None:
    created = world.alice.client.post(
        certs(world), {"fingerprint": "AB:" * 31 + "ab"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["fingerprint_sha256"] == "AB:" * 31 + "AB"
    assert created.json()["not_after"] is None and created.json()["subject"] == ""


def test_a_certificate_registered_anywhere_is_refused_with_a_field_error(world: World) -> None:
    cert = pem(certificate(now=NOW))
    assert (
        world.bob.client.post(
            f"{world.bob.app}/client-certificates", {"certificate_pem": cert}, format="json"
        ).status_code
        == 201
    )
    refused = world.alice.client.post(certs(world), {"certificate_pem": cert}, format="json")
    assert "registered already" in field_errors(refused)["certificate_pem"][0]
    by_print = world.alice.client.post(
        certs(world), {"fingerprint": der_sha256(certificate(now=NOW)).hex()}, format="json"
    )
    assert by_print.status_code == 201  # another certificate: another fingerprint


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "certificate_pem", "either the certificate"),
        ({"certificate_pem": "x", "fingerprint": "ab" * 32}, "fingerprint", "not both"),
        ({"certificate_pem": "hello"}, "certificate_pem", "not a PEM certificate"),
        ({"fingerprint": "abc"}, "fingerprint", "64 hex digits"),
        ({"fingerprint": 12}, "fingerprint", "must be a string"),
        ({"fingerprint": "ab" * 32, "colour": "red"}, "colour", "unknown field"),
        ({"fingerprint": "ab" * 32, "name": "n" * 101}, "name", "100"),
    ],
)
def test_bad_input_is_refused_on_its_field(
    world: World, body: dict[str, Any], field: str, words: str
) -> None:
    errors = field_errors(world.alice.client.post(certs(world), body, format="json"))
    assert words in " ".join(errors[field])
    assert not ClientCertificate.objects.exists()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: pem(certificate(now=NOW, days=1, starts=timedelta(days=-3))), "expired"),
        (lambda: pem(certificate(now=NOW, starts=timedelta(days=1))), "not valid before"),
        (lambda: pem(certificate(now=NOW, ca=True)), "CA certificate"),
        (lambda: pem(certificate(now=NOW, key=rsa_key(1024))), "RSA key of 1024 bits"),
        (lambda: pem(certificate(now=NOW)) * 2, "several certificates"),
        (lambda: private_key_pem(ec_key()), "never send it"),
    ],
)
def test_certificates_that_cannot_identify_a_client_are_refused(
    world: World, make: Any, words: str
) -> None:
    text = make()
    refused = world.alice.client.post(certs(world), {"certificate_pem": text}, format="json")
    assert words in field_errors(refused)["certificate_pem"][0]
    if "PRIVATE KEY" in text:
        assert text.splitlines()[1] not in refused.content.decode()


def test_delete_revokes_once_and_for_all(world: World) -> None:
    made = services.register_client_certificate(
        application=world.alice.application, fingerprint="01" * 32
    )
    url = f"{certs(world)}/{made.pk}"
    assert world.alice.client.delete(url).status_code == 204
    made.refresh_from_db()
    first = made.revoked_at
    assert first is not None
    assert world.alice.client.delete(url).status_code == 204
    made.refresh_from_db()
    assert made.revoked_at == first
    assert world.alice.client.get(url).json()["state"] == "revoked"
    # Revoked, the fingerprint may be registered again.
    again = world.alice.client.post(certs(world), {"fingerprint": "01" * 32}, format="json")
    assert again.status_code == 201


def test_another_organization_sees_nothing_and_changes_nothing(world: World) -> None:
    made = services.register_client_certificate(
        application=world.alice.application, fingerprint="02" * 32
    )
    bob = world.bob.client
    for answer in (
        bob.get(certs(world)),
        bob.post(certs(world), {"fingerprint": "03" * 32}, format="json"),
        bob.get(f"{certs(world)}/{made.pk}"),
        bob.delete(f"{certs(world)}/{made.pk}"),
        bob.get(f"{world.alice.app}/token-clients"),
        # Bob's own application, Alice's certificate id: not found either.
        bob.get(f"{world.bob.app}/client-certificates/{made.pk}"),
        bob.delete(f"{world.bob.app}/client-certificates/{made.pk}"),
    ):
        assert answer.status_code == 404, answer.content
    made.refresh_from_db()
    assert made.revoked_at is None and ClientCertificate.objects.count() == 1


def test_a_billing_member_reads_but_cannot_register_or_revoke(world: World) -> None:
    user, _ = member(world.alice.organization, "alice-billing@example.com", Role.BILLING)
    client = token_client(user)
    made = services.register_client_certificate(
        application=world.alice.application, fingerprint="04" * 32
    )
    assert client.get(certs(world)).status_code == 200
    assert client.post(certs(world), {"fingerprint": "05" * 32}, format="json").status_code == 403
    assert client.delete(f"{certs(world)}/{made.pk}").status_code == 403
    made.refresh_from_db()
    assert made.revoked_at is None and ClientCertificate.objects.count() == 1


def test_a_developer_member_may_register(world: World) -> None:
    client = token_client(world.alice.teammate.user)
    assert client.post(certs(world), {"fingerprint": "06" * 32}, format="json").status_code == 201


def test_token_clients_are_listed_read_only(world: World) -> None:
    issuer = services.create_token_issuer(
        name="corp",
        issuer="https://login.corp.example/",
        audiences="api://orders",
        jwks_uri="https://login.corp.example/jwks",
    )
    services.map_token_client(issuer=issuer, client_id="abc", application=world.alice.application)
    services.map_token_client(issuer=issuer, client_id="bob's", application=world.bob.application)
    url = f"{world.alice.app}/token-clients"
    listed = world.alice.client.get(url).json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert row["issuer"] == "https://login.corp.example/" and row["client_id"] == "abc"
    assert row["state"] == "active" and row["issuer_name"] == "corp"
    assert world.alice.client.post(url, {"client_id": "x"}, format="json").status_code == 405


def test_the_schema_documents_the_new_paths(world: World) -> None:
    document = world.alice.client.get("/api/v1/schema?format=json").json()
    paths = document["paths"]
    base = "/api/v1/orgs/{org}/applications/{app}"
    assert {"get", "post"} <= set(paths[f"{base}/client-certificates"])
    assert {"get", "delete"} <= set(paths[f"{base}/client-certificates/{{certificate_id}}"])
    assert set(paths[f"{base}/token-clients"]) >= {"get"}
    assert "post" not in paths[f"{base}/token-clients"]

"""The "Client certificates" section of an application's portal page: listed with their
fingerprints and state, registered by PEM or fingerprint, refused in words (never echoing
a private key), revoked with a POST; only for the application's own organization."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from mgmt.gateway.models import Role
from mgmt.identity import services
from mgmt.identity.client_cert_checks import colon_hex
from mgmt.identity.models import ClientCertificate
from tests.devapi.world import World, build_world, member
from tests.identity.material import certificate, der_sha256, ec_key, pem, private_key_pem

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


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(world: World) -> str:
    return f"/portal/orgs/{world.alice.org}/applications/{world.alice.application.public_id}"


def test_the_application_page_lists_certificates_with_colon_hex_and_state(world: World) -> None:
    cert = certificate(now=NOW, days=40)
    services.register_client_certificate(
        application=world.alice.application, name="prod-fleet", certificate_pem=pem(cert)
    )
    gone = services.register_client_certificate(
        application=world.alice.application, name="old-laptop", fingerprint="0a" * 32
    )
    services.revoke_client_certificate(certificate=gone)
    page = signed_in(world.alice.user).get(page_url(world))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Client certificates" in html
    assert "prod-fleet" in html and colon_hex(der_sha256(cert)) in html
    assert "CN=checkout.partner.example" in html
    assert f"{cert.not_valid_after_utc:%Y-%m-%d}" in html
    assert "old-laptop" in html and ">revoked<" in html
    assert "Revoke prod-fleet" in html and "Revoke old-laptop" not in html
    assert 'name="certificate_pem"' in html


def test_registering_by_pem_redirects_to_the_page_showing_it(world: World) -> None:
    cert = certificate(now=NOW)
    client = signed_in(world.alice.user)
    answer = client.post(
        f"{page_url(world)}/client-certificates", {"name": "ci", "certificate_pem": pem(cert)}
    )
    assert answer.status_code == 302 and answer["Location"] == page_url(world)
    made = ClientCertificate.objects.get()
    assert bytes(made.fingerprint_sha256) == der_sha256(cert)
    assert colon_hex(der_sha256(cert)) in client.get(page_url(world)).content.decode()


def test_registering_by_fingerprint(world: World) -> None:
    answer = signed_in(world.alice.user).post(
        f"{page_url(world)}/client-certificates", {"fingerprint": "AB:" * 31 + "ab"}
    )
    assert answer.status_code == 302
    assert bytes(ClientCertificate.objects.get().fingerprint_sha256) == b"\xab" * 32


def test_a_refusal_is_shown_on_its_field(world: World) -> None:
    answer = signed_in(world.alice.user).post(
        f"{page_url(world)}/client-certificates", {"fingerprint": "abc"}
    )
    assert answer.status_code == 400
    assert "64 hex digits" in answer.content.decode()
    assert not ClientCertificate.objects.exists()


def test_a_pasted_private_key_is_refused_and_not_sent_back(world: World) -> None:
    key_text = private_key_pem(ec_key())
    answer = signed_in(world.alice.user).post(
        f"{page_url(world)}/client-certificates", {"certificate_pem": key_text}
    )
    html = answer.content.decode()
    assert answer.status_code == 400 and "never send it" in html
    assert key_text.splitlines()[1] not in html
    assert not ClientCertificate.objects.exists()


def test_a_duplicate_is_refused(world: World) -> None:
    services.register_client_certificate(application=world.bob.application, fingerprint="07" * 32)
    answer = signed_in(world.alice.user).post(
        f"{page_url(world)}/client-certificates", {"fingerprint": "07" * 32}
    )
    assert answer.status_code == 400 and "registered already" in answer.content.decode()


def test_revoke_is_a_post_that_revokes(world: World) -> None:
    made = services.register_client_certificate(
        application=world.alice.application, fingerprint="08" * 32
    )
    client = signed_in(world.alice.user)
    url = f"{page_url(world)}/client-certificates/{made.pk}/revoke"
    assert client.get(url).status_code == 405
    made.refresh_from_db()
    assert made.revoked_at is None
    assert client.post(url).status_code == 302
    made.refresh_from_db()
    assert made.revoked_at is not None


def test_revoking_needs_the_csrf_token(world: World) -> None:
    made = services.register_client_certificate(
        application=world.alice.application, fingerprint="09" * 32
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice.user)
    answer = client.post(f"{page_url(world)}/client-certificates/{made.pk}/revoke")
    assert answer.status_code == 403
    made.refresh_from_db()
    assert made.revoked_at is None


def test_another_organization_gets_404_and_changes_nothing(world: World) -> None:
    made = services.register_client_certificate(
        application=world.alice.application, fingerprint="0b" * 32
    )
    bob = signed_in(world.bob.user)
    bobs_page = f"/portal/orgs/{world.bob.org}/applications/{world.bob.application.public_id}"
    for url, body in (
        (f"{page_url(world)}/client-certificates", {"fingerprint": "0c" * 32}),
        (f"{page_url(world)}/client-certificates/{made.pk}/revoke", {}),
        (f"{bobs_page}/client-certificates/{made.pk}/revoke", {}),
    ):
        assert bob.post(url, body).status_code == 404, url
    made.refresh_from_db()
    assert made.revoked_at is None and ClientCertificate.objects.count() == 1
    assert colon_hex(bytes(made.fingerprint_sha256)) not in bob.get(bobs_page).content.decode()


def test_a_billing_member_sees_the_list_but_no_forms_and_cannot_post(world: World) -> None:
    user, _ = member(world.alice.organization, "alice-billing@example.com", Role.BILLING)
    made = services.register_client_certificate(
        application=world.alice.application, name="seen", fingerprint="0d" * 32
    )
    client = signed_in(user)
    html = client.get(page_url(world)).content.decode()
    assert "seen" in html and 'name="certificate_pem"' not in html and "Revoke seen" not in html
    url = f"{page_url(world)}/client-certificates"
    assert client.post(url, {"fingerprint": "0e" * 32}).status_code == 403
    assert client.post(f"{url}/{made.pk}/revoke").status_code == 403
    made.refresh_from_db()
    assert made.revoked_at is None and ClientCertificate.objects.count() == 1

"""The portal's pages through Django's test client: every page renders for a member, two
tenants never see or touch each other's rows, roles and login are enforced, CSRF is on,
and a key's secret is shown once."""

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mgmt.developers import accounts
from mgmt.gateway.models import ApiKey, Application
from tests.portal.conftest import Catalog, Tenant, signed_in
from tests.portal.portal_targets import TARGETS, WRITES, Target, ids_of, pages_of, world

pytestmark = [pytest.mark.db, pytest.mark.django_db]

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"


# --- every page renders ------------------------------------------------------------------


def test_every_page_renders_for_a_member(alice: Tenant, catalog: Catalog) -> None:
    client = signed_in(alice.owner)
    for url in pages_of(ids_of(alice)):
        response = client.get(url)
        assert response.status_code == 200, url
    dashboard = client.get(reverse("portal:dashboard")).content.decode()
    assert "Alice Corp" in dashboard and "Alice Checkout" in dashboard
    assert 'id="usage-heading">Usage<' in dashboard
    assert "Usage and quotas of Alice Checkout" in dashboard


def test_the_catalog_shows_versions_lifecycles_and_plans_but_never_drafts(
    alice: Tenant, catalog: Catalog
) -> None:
    page = signed_in(alice.owner).get(reverse("portal:product", args=["demo"])).content.decode()
    assert "v2" in page and "v1" in page and "v3-draft" not in page
    assert "Deprecated" in page and "2030-07-01" in page and "2030-01-01" in page
    assert "10 calls per second" in page and "100 calls per second" in page
    assert "Quota: 10,000 calls per month" in page
    assert "An API owner approves each subscription" in page
    assert reverse("portal:docs", args=["demo", "v2"]) in page
    assert (
        signed_in(alice.owner).get(reverse("portal:docs", args=["demo", "v3-draft"])).status_code
        == 404
    )


def test_the_docs_page_loads_the_offline_redoc_bundle_with_the_document_as_json(
    alice: Tenant, catalog: Catalog
) -> None:
    client = signed_in(alice.owner)
    page = client.get(reverse("portal:docs", args=["demo", "v2"])).content.decode()
    assert f'src="/static/{REDOC_BUNDLE}"' in page
    document_url = reverse("portal:openapi-document", args=["demo", "v2"])
    assert f'spec-url="{document_url}"' in page
    assert "cdn" not in page.lower()
    # The bundle and the stylesheet are real files the static finders serve.
    assert finders.find(REDOC_BUNDLE) is not None
    assert finders.find("portal/portal.css") is not None
    document = client.get(document_url)
    assert document["Content-Type"] == "application/json"
    assert document.json()["info"]["title"] == "Demo API"
    assert "/hello" in document.json()["paths"]
    # A version without a document says so, and loads no reference viewer.
    bare = client.get(reverse("portal:docs", args=["demo", "v1"])).content.decode()
    assert "has not published a reference" in bare and REDOC_BUNDLE not in bare
    assert client.get(reverse("portal:openapi-document", args=["demo", "v1"])).status_code == 404


def test_anonymous_pages_render(alice: Tenant) -> None:
    client = Client()
    for url in (
        reverse("portal:signup"),
        reverse("portal:login"),
        reverse("portal:resend-verification"),
    ):
        assert client.get(url).status_code == 200, url
    invited = accounts.invite(
        organization=alice.organization, by=alice.owner, email="new@example.com", role="billing"
    )
    shown = client.post(reverse("portal:invitation"), {"code": invited.token}).content.decode()
    assert "Alice Corp" in shown and "billing" in shown
    unknown = client.post(reverse("portal:invitation"), {"code": "some-token"})
    assert unknown.status_code == 404 and b"not valid" in unknown.content
    refused = client.post(reverse("portal:verify"), {"code": "not-a-token"})
    assert refused.status_code == 400
    assert b"not valid" in refused.content


# --- tenants -----------------------------------------------------------------------------


# Which of Alice's ids are swapped for Bob's: his organization, or one of his objects
# under Alice's own organization (each selector must scope, not just the first one).
CROSSINGS = {
    "bobs-organization": (
        "org",
        "public_id",
        "key_id",
        "subscription_id",
        "request_id",
        "member_id",
        "invitation_id",
    ),
    "bobs-application": ("public_id", "key_id", "subscription_id", "request_id"),
    "bobs-key": ("key_id",),
    "bobs-subscription": ("subscription_id", "request_id"),
    "bobs-limit-request": ("request_id",),
    "bobs-member": ("member_id",),
    "bobs-invitation": ("invitation_id",),
}
CASES = [
    pytest.param(crossing, target, method, id=f"{crossing}-{target.name}-{method}")
    for crossing, swapped in CROSSINGS.items()
    for target in TARGETS
    if set(target.uses) & set(swapped)
    for method in ("GET", "POST")
]


@pytest.mark.parametrize(("crossing", "target", "method"), CASES)
def test_alice_gets_404_for_every_url_of_bobs_and_nothing_changes(
    alice: Tenant, bob: Tenant, crossing: str, target: Target, method: str
) -> None:
    ids = {**ids_of(alice), **{k: v for k, v in ids_of(bob).items() if k in CROSSINGS[crossing]}}
    before = world()
    client = signed_in(alice.owner)
    url = target.url(ids)
    response = client.post(url, target.body(ids)) if method == "POST" else client.get(url)
    assert response.status_code == 404, (url, response.status_code)
    assert world() == before


def test_nothing_of_bobs_shows_on_alices_pages(alice: Tenant, bob: Tenant) -> None:
    client = signed_in(alice.owner)
    bobs = [
        bob.organization.name,
        bob.organization.slug,
        bob.application.name,
        bob.application.public_id,
        bob.api_key.key_id,
        bob.owner.email,
        bob.invitation.email,
        bob.limit_request.reason,
    ]
    for url in pages_of(ids_of(alice)):
        page = client.get(url).content.decode()
        assert [text for text in bobs if text in page] == [], url


def test_alice_cannot_subscribe_bobs_application_from_the_catalog(
    alice: Tenant, bob: Tenant, catalog: Catalog
) -> None:
    before = world()
    response = signed_in(alice.owner).post(
        reverse("portal:subscribe", args=["demo"]),
        {"plan": "pro", "application": f"{bob.organization.slug}/{bob.application.public_id}"},
    )
    assert response.status_code == 400
    assert b'id="id_application_error"' in response.content
    assert world() == before


# --- roles and login ---------------------------------------------------------------------


@pytest.mark.parametrize("target", WRITES, ids=lambda target: target.name)
def test_billing_members_read_but_get_403_on_every_write(
    alice: Tenant, carol: User, target: Target
) -> None:
    ids = ids_of(alice)
    client = signed_in(carol)
    before = world()
    response = client.post(target.url(ids), target.body(ids))
    assert response.status_code == 403
    assert b"does not allow this" in response.content
    assert world() == before


def test_billing_members_see_the_pages_without_their_forms(alice: Tenant, carol: User) -> None:
    client = signed_in(carol)
    ids = ids_of(alice)
    for url in pages_of(ids):
        assert client.get(url).status_code == 200, url
    app_page = client.get(
        reverse("portal:application", args=[ids["org"], ids["public_id"]])
    ).content
    assert b"Create key" not in app_page and b"Revoke " not in app_page
    members = client.get(reverse("portal:members", args=[alice.organization.slug])).content
    assert b"Send the invitation" not in members


@pytest.mark.parametrize(
    "target",
    [
        t
        for t in WRITES
        if t.name in {"invite", "change-role", "remove-member", "revoke-invitation"}
    ],
    ids=lambda target: target.name,
)
def test_developers_get_403_on_member_writes(alice: Tenant, dan: User, target: Target) -> None:
    ids = ids_of(alice)
    before = world()
    assert signed_in(dan).post(target.url(ids), target.body(ids)).status_code == 403
    assert world() == before


def test_a_developer_manages_applications(alice: Tenant, dan: User) -> None:
    response = signed_in(dan).post(
        reverse("portal:applications", args=[alice.organization.slug]), {"name": "Dan's tool"}
    )
    assert response.status_code == 302
    assert alice.organization.applications.filter(name="Dan's tool").exists()


def test_signed_in_pages_redirect_to_log_in(alice: Tenant) -> None:
    client = Client()
    ids = ids_of(alice)
    responses = {url: client.get(url) for url in pages_of(ids)}
    responses |= {target.url(ids): client.post(target.url(ids)) for target in WRITES}
    for url, response in responses.items():
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{reverse('portal:login')}?next=/portal/"), url


def test_log_out_is_a_post(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    assert client.get(reverse("portal:logout")).status_code == 405
    assert client.get(reverse("portal:dashboard")).status_code == 200
    assert client.post(reverse("portal:logout")).status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 302


def test_a_post_without_the_csrf_token_is_refused(alice: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.owner)
    url = reverse("portal:applications", args=[alice.organization.slug])
    assert client.post(url, {"name": "No token"}).status_code == 403
    assert not Application.objects.filter(name="No token").exists()
    # The same POST with the page's token goes through: it was the token that was missing.
    page = client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = client.post(url, {"name": "With token", "csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302
    assert Application.objects.filter(name="With token").exists()


def test_log_in_and_sign_up_forms_need_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("portal:login"), {"email": "a@example.com"}).status_code == 403
    assert client.post(reverse("portal:signup"), {"email": "a@example.com"}).status_code == 403


# --- the key's secret --------------------------------------------------------------------


SECRET = re.compile(r'value="(tg_[a-z2-7]{12}_[A-Za-z0-9_-]+)"')


def _revealed(response: Any) -> str:
    found = SECRET.search(response.content.decode())
    assert found is not None, response.content.decode()
    return found.group(1)


def test_a_new_keys_secret_is_shown_once_and_never_cached(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    app_url = reverse(
        "portal:application", args=[alice.organization.slug, alice.application.public_id]
    )
    response = client.post(f"{app_url}/keys", {"label": "ci"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = _revealed(response)
    issued = ApiKey.objects.get(application=alice.application, label="ci")
    assert secret.startswith(f"tg_{issued.key_id}_")
    assert bytes(issued.key_hash) == hashlib.sha256(secret.encode()).digest()
    # Not in the session, not in a message: only that one response carried it.
    assert secret not in repr(dict(client.session.items()))
    app_page = client.get(app_url).content.decode()
    assert issued.key_id in app_page
    assert secret not in app_page
    assert secret[16:] not in app_page


def test_rotating_shows_the_new_secret_once_and_ends_the_old_key_after_the_overlap(
    alice: Tenant,
) -> None:
    client = signed_in(alice.owner)
    ids = ids_of(alice)
    url = reverse("portal:rotate-key", kwargs={k: ids[k] for k in ("org", "public_id", "key_id")})
    started = timezone.now()
    response = client.post(url, {f"rotate-{alice.api_key.key_id}-overlap_seconds": "600"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = _revealed(response)
    new = ApiKey.objects.get(rotated_from=alice.api_key)
    assert secret.startswith(f"tg_{new.key_id}_")
    alice.api_key.refresh_from_db()
    assert alice.api_key.expires_at is not None
    assert started + timedelta(seconds=590) < alice.api_key.expires_at
    assert alice.api_key.expires_at < timezone.now() + timedelta(seconds=610)
    page = client.get(reverse("portal:application", args=[ids["org"], ids["public_id"]]))
    assert secret not in page.content.decode()


def test_revoking_a_key_marks_it_revoked(alice: Tenant) -> None:
    ids = ids_of(alice)
    url = reverse("portal:revoke-key", kwargs={k: ids[k] for k in ("org", "public_id", "key_id")})
    assert signed_in(alice.owner).post(url).status_code == 302
    alice.api_key.refresh_from_db()
    assert alice.api_key.revoked_at is not None

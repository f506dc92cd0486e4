"""The admin API owners use: every page renders, keys are shown once, revocation publishes."""

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from extauthz.keys import hash_key
from mgmt.developers import access, accounts
from mgmt.embedded.demo_data import seed_demo
from mgmt.gateway import node_conditions, publishing, services
from mgmt.gateway.models import (
    ApiKey,
    ApiVersion,
    Application,
    LifecycleEvent,
    LifecycleNotice,
    Membership,
    Snapshot,
    SnapshotRejection,
    Subscription,
    XdsNodeStatus,
)
from tests.mgmt import factories
from xds_server import type_urls

pytestmark = [pytest.mark.db, pytest.mark.django_db]

GATEWAY_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "gateway"),
    key=lambda model: model._meta.model_name,
)


@pytest.fixture
def demo(tmp_path):
    return seed_demo(upstream_port=9000, key_file=tmp_path / "k", admin_password="x")


def test_every_gateway_model_is_registered_in_admin():
    assert {m._meta.model_name for m in GATEWAY_MODELS} == {
        "accesstoken",
        "developeraccount",
        "invitation",
        "limitrequest",
        "membership",
        "nodecondition",
        "api",
        "apikey",
        "apiversion",
        "application",
        "lifecycleevent",
        "lifecyclenotice",
        "organization",
        "plan",
        "product",
        "route",
        "snapshot",
        "snapshotrejection",
        "subscription",
        "upstream",
        "xdsnodestatus",
    }  # endpoints are edited inline on their upstream


def _developer_rows() -> None:
    """What partners leave in the portal beside the demo: a token, an invitation, a request."""
    partner = Membership.objects.select_related("user", "organization").get()
    accounts.create_access_token(user=partner.user, label="ci")
    accounts.invite(
        organization=partner.organization, by=partner.user, email="new@example.com", role="billing"
    )
    access.request_limits(
        subscription=Subscription.objects.get(application__name="Demo app"),
        by=partner.user,
        windows=[{"requests": 50, "unit": "second"}],
        quota_requests=None,
        reason="a launch",
    )


def test_every_gateway_changelist_renders_with_the_demo_seeded(admin_client, demo):
    publishing.publish_snapshot()
    SnapshotRejection.objects.create(
        version="v", node_id="envoy-1", type_url=type_urls.ROUTE, error="boom", at=datetime.now(UTC)
    )
    XdsNodeStatus.objects.create(
        node_id="envoy-1", type_url=type_urls.ROUTE, acked_version="v", updated_at=datetime.now(UTC)
    )
    node_conditions.record(
        [
            node_conditions.Reported(
                "gw-1/extauthz", "counters-unreachable", True, datetime.now(UTC), ""
            )
        ]
    )
    version = ApiVersion.objects.get(version="v1")
    LifecycleEvent.objects.create(
        api_version=version,
        version_label=str(version),
        from_state="draft",
        to_state="published",
        actor_label="demo",
        at=datetime.now(UTC),
    )
    LifecycleNotice.objects.create(
        api_version=version,
        application=Application.objects.get(name="Demo app"),
        kind=LifecycleNotice.Kind.REMINDER,
        lead_days=7,
        sunset_at=datetime.now(UTC),
        state=LifecycleNotice.State.NO_RECIPIENT,
    )
    _developer_rows()
    assert GATEWAY_MODELS

    for model in GATEWAY_MODELS:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count == model.objects.count(), url
        assert model.objects.exists(), f"the demo leaves {opts.model_name} empty"


def test_every_gateway_change_page_renders_with_the_demo_seeded(admin_client, demo):
    publishing.publish_snapshot()
    for model in GATEWAY_MODELS:
        opts = model._meta
        for obj in model.objects.all()[:3]:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert admin_client.get(url).status_code == 200, url


def _add_key(client, application: Application, label: str = "ci"):
    return client.post(
        "/admin/gateway/apikey/add/",
        {"application": application.pk, "label": label, "expires_at_0": "", "expires_at_1": ""},
    )


def test_adding_an_api_key_shows_its_secret_once_and_stores_only_its_hash(admin_client, demo):
    application = Application.objects.get(name="Demo app")
    keys_before = set(ApiKey.objects.values_list("pk", flat=True))

    response = _add_key(admin_client, application)

    assert response.status_code == 200
    assert "no-store" in [d.strip() for d in response["Cache-Control"].split(",")]
    (api_key,) = ApiKey.objects.exclude(pk__in=keys_before)
    assert api_key.application == application
    assert api_key.label == "ci"
    secret = response.context["secret"]
    assert secret.startswith(f"tg_{api_key.key_id}_")
    assert hash_key(secret) == bytes(api_key.key_hash)
    assert f'<code id="issued-secret" style="font-size:1.2em">{secret}</code>' in (
        response.content.decode()
    )


def test_an_issued_secret_is_kept_in_no_session_cookie_or_later_page(admin_client, demo):
    application = Application.objects.get(name="Demo app")
    keys_before = set(ApiKey.objects.values_list("pk", flat=True))

    response = _add_key(admin_client, application)
    secret = response.context["secret"]
    (api_key,) = ApiKey.objects.exclude(pk__in=keys_before)
    body = secret.split("_", 2)[2]  # the part that is never visible anywhere else

    session = admin_client.session
    assert body not in repr(dict(session.items()))
    assert all(body not in morsel.value for morsel in response.cookies.values())
    assert all(body not in morsel.value for morsel in admin_client.cookies.values())
    assert not LogEntry.objects.filter(object_repr__contains=body).exists()
    assert not LogEntry.objects.filter(change_message__contains=body).exists()

    for url in (
        reverse("admin:gateway_apikey_change", args=[api_key.pk]),
        reverse("admin:gateway_apikey_changelist"),
        reverse("admin:gateway_application_change", args=[application.pk]),
    ):
        later = admin_client.get(url)
        assert later.status_code == 200
        assert api_key.key_id in later.content.decode()
        assert body not in later.content.decode(), url
        assert not [m for m in later.context["messages"] if body in str(m)]


def test_the_application_of_an_existing_key_is_read_only(admin_client, demo):
    api_key = ApiKey.objects.get(label="demo")
    original = api_key.application
    elsewhere = factories.application()
    url = reverse("admin:gateway_apikey_change", args=[api_key.pk])

    page = admin_client.get(url)
    assert "application" not in page.context["adminform"].form.fields

    response = admin_client.post(
        url,
        {
            "application": elsewhere.pk,
            "label": "renamed",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.label == "renamed"  # the POST was accepted ...
    assert api_key.application == original  # ... but the key did not move


@pytest.mark.django_db(transaction=True)
def test_the_revoke_action_revokes_every_selected_key_with_one_snapshot(
    admin_client, tmp_path, monkeypatch
):
    demo = seed_demo(upstream_port=9000, key_file=tmp_path / "k", admin_password="x")
    assert demo.api_key
    application = Application.objects.get(name="Demo app")
    selected = [services.create_api_key(application=application).api_key for _ in range(3)]
    spared = services.create_api_key(application=application).api_key
    snapshots_before = Snapshot.objects.count()
    publications: list[Snapshot] = []
    real_publish = publishing.publish_snapshot

    def counting_publish() -> Snapshot:
        publications.append(real_publish())
        return publications[-1]

    monkeypatch.setattr(publishing, "publish_snapshot", counting_publish)

    response = admin_client.post(
        reverse("admin:gateway_apikey_changelist"),
        {"action": "revoke", "_selected_action": [k.pk for k in selected], "index": 0},
    )

    assert response.status_code == 302
    revoked = ApiKey.objects.filter(pk__in=[k.pk for k in selected])
    assert all(k.revoked_at is not None for k in revoked)
    assert len({k.revoked_at for k in revoked}) == 1
    assert ApiKey.objects.get(pk=spared.pk).revoked_at is None
    assert len(publications) == 1
    assert Snapshot.objects.count() == snapshots_before + 1
    assert Snapshot.objects.latest().status == Snapshot.Status.PUBLISHED


def test_the_snapshot_page_shows_the_rejections_of_its_type_versions(admin_client, demo):
    snapshot = publishing.publish_snapshot()
    assert snapshot.status == Snapshot.Status.PUBLISHED
    route_version = snapshot.type_versions[type_urls.ROUTE]
    SnapshotRejection.objects.create(
        version=route_version,
        node_id="envoy-edge-7",
        type_url=type_urls.ROUTE,
        error="invalid regex: lookahead not supported",
        at=datetime.now(UTC),
    )
    SnapshotRejection.objects.create(
        version="some-other-version",
        node_id="envoy-edge-8",
        type_url=type_urls.ROUTE,
        error="an unrelated rejection",
        at=datetime.now(UTC),
    )

    response = admin_client.get(reverse("admin:gateway_snapshot_change", args=[snapshot.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "invalid regex: lookahead not supported" in content
    assert "envoy-edge-7" in content
    assert "an unrelated rejection" not in content


def test_a_snapshot_without_rejections_says_none(admin_client, demo):
    snapshot = publishing.publish_snapshot()

    response = admin_client.get(reverse("admin:gateway_snapshot_change", args=[snapshot.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Rejections (Envoy&#x27;s own messages)" in content
    assert '<div class="readonly">none</div>' in content

"""The version lifecycle in the admin: buttons and forms over the services, the bulk
deprecation, who is notified, and the read-only audit log and notices."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from mgmt.celery_app import app as celery_app
from mgmt.gateway import tasks
from mgmt.gateway.models import ApiVersion, LifecycleEvent, LifecycleNotice
from tests.mgmt import factories
from tests.mgmt.lifecycle_world import LifecycleWorld, deprecated, lifecycle_world

pytestmark = [pytest.mark.db]
DAY = timedelta(days=1)


def _now() -> datetime:
    # The services keep whole seconds (as the Sunset header does); so does this setup.
    return timezone.now().replace(microsecond=0)


def _url(name: str, version: ApiVersion) -> str:
    return reverse(f"admin:gateway_apiversion_{name}", args=[version.pk])


def _split(moment: datetime) -> dict[str, str]:
    return {"sunset_at_0": moment.strftime("%Y-%m-%d"), "sunset_at_1": moment.strftime("%H:%M:%S")}


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def world() -> LifecycleWorld:
    return lifecycle_world()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Notice ids handed to the broker (no broker needed)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_lifecycle_notice, "delay", sent.append)
    return sent


@pytest.fixture(autouse=True)
def _no_broker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deprecation queues its notices too: no test here reaches for a broker unless it
    asks for one (`queued` and `broker_down` replace this; `unreachable_broker` needs the
    real client)."""
    if "unreachable_broker" not in request.fixturenames:
        monkeypatch.setattr(tasks.send_lifecycle_notice, "delay", lambda notice_id: None)


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(notice_id: int) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:16379. Connection refused.")

    monkeypatch.setattr(tasks.send_lifecycle_notice, "delay", refuse)


@pytest.fixture
def unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Celery client, pointed at a port nothing listens on."""
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(celery_app, "_pool", None)  # pools made for another URL
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)


@pytest.mark.django_db
def test_publishing_a_draft_from_its_page_records_the_admin_as_the_actor(admin_client, admin_user):
    draft = factories.api_version(lifecycle=ApiVersion.Lifecycle.DRAFT)

    page = admin_client.get(reverse("admin:gateway_apiversion_change", args=[draft.pk]))
    assert _url("publish", draft) in page.content.decode()
    assert admin_client.get(_url("publish", draft)).status_code == 200
    response = admin_client.post(_url("publish", draft), {"reason": "routes are ready"})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:gateway_apiversion_change", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.lifecycle == "published"
    assert draft.published_at is not None
    event = LifecycleEvent.objects.get(api_version=draft)
    assert (event.from_state, event.to_state, event.actor, event.reason) == (
        "draft",
        "published",
        admin_user,
        "routes are ready",
    )
    assert any("is published" in m for m in _messages(response))


@pytest.mark.django_db
def test_the_version_page_offers_only_the_transitions_its_state_allows(admin_client, world):
    published = admin_client.get(reverse("admin:gateway_apiversion_change", args=[world.v2.pk]))
    content = published.content.decode()
    assert "Deprecate…" in content
    assert "Retire…" in content
    assert _url("publish", world.v2) not in content
    assert _url("call_off", world.v2) not in content

    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())
    page = admin_client.get(reverse("admin:gateway_apiversion_change", args=[world.v1.pk]))
    content = page.content.decode()
    assert "Reschedule…" in content
    assert "Call off deprecation…" in content
    assert _url("publish", world.v1) not in content


@pytest.mark.django_db
def test_deprecating_with_a_successor_saves_sunset_successor_and_an_event(admin_client, world):
    sunset = (timezone.now() + 90 * DAY).replace(microsecond=0)

    response = admin_client.post(
        _url("deprecate", world.v1),
        {
            **_split(sunset),
            "successor": world.v2.pk,
            "changelog_url": "docs.example.test/payments/v2",
            "reason": "v2 is out",
        },
    )

    assert response.status_code == 302
    version = ApiVersion.objects.get(pk=world.v1.pk)
    assert (version.lifecycle, version.sunset_at, version.successor) == (
        "deprecated",
        sunset,
        world.v2,
    )
    assert version.changelog_url == "https://docs.example.test/payments/v2"
    event = LifecycleEvent.objects.get(api_version=version)
    assert (event.from_state, event.to_state, event.reason) == (
        "published",
        "deprecated",
        "v2 is out",
    )
    assert event.details["successor"] == "Payments v2"


@pytest.mark.django_db
def test_a_sunset_in_the_past_is_an_error_on_its_field_and_keeps_what_was_typed(
    admin_client, world
):
    yesterday = timezone.now() - DAY

    response = admin_client.post(
        _url("deprecate", world.v1),
        {
            **_split(yesterday),
            "successor": world.v2.pk,
            "changelog_url": "https://docs.example.test/typed",
            "reason": "typed with care",
        },
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "the sunset must be in the future" in form.errors["sunset_at"]
    content = response.content.decode()
    assert "the sunset must be in the future" in content
    assert "typed with care" in content
    assert "https://docs.example.test/typed" in content
    assert yesterday.strftime("%Y-%m-%d") in content
    version = ApiVersion.objects.get(pk=world.v1.pk)
    assert (version.lifecycle, version.sunset_at, version.successor) == ("published", None, None)
    assert not LifecycleEvent.objects.exists()


@pytest.mark.django_db
def test_a_successor_of_another_api_is_refused(admin_client, world):
    stranger = factories.api_version()  # published, of another API

    response = admin_client.post(
        _url("deprecate", world.v1),
        {**_split(timezone.now() + 30 * DAY), "successor": stranger.pk, "reason": ""},
    )

    assert response.status_code == 200
    assert "successor" in response.context["form"].errors
    assert ApiVersion.objects.get(pk=world.v1.pk).lifecycle == "published"


@pytest.mark.django_db
def test_retiring_before_the_sunset_without_force_is_an_error_on_force(admin_client, world):
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())

    response = admin_client.post(_url("retire", world.v1), {"reason": "no"})

    assert response.status_code == 200
    (error,) = response.context["form"].errors["force"]
    assert "its sunset has not come yet" in error
    assert ApiVersion.objects.get(pk=world.v1.pk).lifecycle == "deprecated"


@pytest.mark.django_db
def test_a_forced_retirement_needs_a_reason(admin_client, world):
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())

    response = admin_client.post(_url("retire", world.v1), {"force": "on", "reason": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["say why this version is retired early"]
    assert ApiVersion.objects.get(pk=world.v1.pk).lifecycle == "deprecated"


@pytest.mark.django_db
def test_a_forced_retirement_with_a_reason_retires_and_queues_its_notices(
    admin_client, world, queued
):
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())

    response = admin_client.post(
        _url("retire", world.v1), {"force": "on", "reason": "security hole in v1"}
    )

    assert response.status_code == 302
    version = ApiVersion.objects.get(pk=world.v1.pk)
    assert version.lifecycle == "retired"
    event = LifecycleEvent.objects.get(api_version=version)
    assert (event.to_state, event.forced, event.reason) == ("retired", True, "security hole in v1")
    notices = LifecycleNotice.objects.filter(api_version=version, kind="retired")
    assert sorted(queued) == sorted(n.pk for n in notices)
    assert {n.application for n in notices} == set(world.subscribers)


@pytest.mark.django_db
def test_an_unreachable_broker_leaves_retirement_notices_to_the_next_job_run(
    admin_client, world, broker_down
):
    response = admin_client.post(_url("retire", world.v2), {"force": "on", "reason": "gone"})

    assert response.status_code == 302
    assert ApiVersion.objects.get(pk=world.v2.pk).lifecycle == "retired"
    assert LifecycleNotice.objects.filter(api_version=world.v2, state="pending").count() == 2
    assert any("next deprecation job run sends them" in m for m in _messages(response))


@pytest.mark.django_db
def test_a_version_that_is_another_versions_successor_cannot_be_retired(admin_client, world):
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())  # v1 -> v2

    response = admin_client.post(_url("retire", world.v2), {"force": "on", "reason": "v3 is out"})

    assert response.status_code == 200
    (error,) = response.context["form"].non_field_errors()
    assert error == (
        "Payments v2 is the successor of Payments v1; name another successor for them first"
    )
    assert error in response.content.decode()
    assert ApiVersion.objects.get(pk=world.v2.pk).lifecycle == "published"


@pytest.mark.django_db
def test_calling_off_a_deprecation_publishes_the_version_again(admin_client, world):
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())

    response = admin_client.post(_url("call_off", world.v1), {"reason": "partners not ready"})

    assert response.status_code == 302
    version = ApiVersion.objects.get(pk=world.v1.pk)
    assert (version.lifecycle, version.sunset_at, version.deprecated_at) == (
        "published",
        None,
        None,
    )
    event = LifecycleEvent.objects.get(api_version=version)
    assert (event.from_state, event.to_state) == ("deprecated", "published")


@pytest.mark.django_db
def test_a_publish_page_left_open_does_not_call_off_a_later_deprecation(admin_client, world):
    """Publishing a draft and calling off a deprecation are one service, not one intent."""
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())

    response = admin_client.post(_url("publish", world.v1), {"reason": "ship it"})

    assert response.status_code == 200
    assert "it changed while this page was open" in str(response.context["form"].non_field_errors())
    assert ApiVersion.objects.get(pk=world.v1.pk).lifecycle == "deprecated"


@pytest.mark.django_db
def test_bulk_deprecation_deprecates_what_the_rules_allow_and_names_the_rest(admin_client, world):
    draft = factories.api_version(api=world.api, version="v3", lifecycle="draft")
    sunset = (timezone.now() + 60 * DAY).replace(microsecond=0)
    changelist = reverse("admin:gateway_apiversion_changelist")
    selected = [world.v1.pk, draft.pk]

    asked = admin_client.post(
        changelist, {"action": "deprecate_selected", "_selected_action": selected, "index": 0}
    )
    assert asked.status_code == 200
    assert "sunset_at" in asked.context["form"].fields
    response = admin_client.post(
        changelist,
        {
            "action": "deprecate_selected",
            "_selected_action": selected,
            "apply": "yes",
            **_split(sunset),
            "changelog_url": "",
            "reason": "end of life",
        },
    )

    assert response.status_code == 302
    v1 = ApiVersion.objects.get(pk=world.v1.pk)
    assert (v1.lifecycle, v1.sunset_at) == ("deprecated", sunset)
    assert ApiVersion.objects.get(pk=draft.pk).lifecycle == "draft"
    messages = _messages(response)
    assert "Payments v3 was not deprecated: Payments v3 cannot go from draft to deprecated" in (
        messages
    )
    assert any(m.startswith("Deprecated") and "Payments v1" in m for m in messages)


@pytest.mark.django_db
def test_bulk_rescheduling_keeps_each_versions_successor_and_changelog(admin_client, world):
    deprecated(world, sunset_at=timezone.now() + 30 * DAY, now=_now())
    later = (timezone.now() + 120 * DAY).replace(microsecond=0)

    admin_client.post(
        reverse("admin:gateway_apiversion_changelist"),
        {
            "action": "deprecate_selected",
            "_selected_action": [world.v1.pk],
            "apply": "yes",
            **_split(later),
            "changelog_url": "",
            "reason": "",
        },
    )

    v1 = ApiVersion.objects.get(pk=world.v1.pk)
    assert (v1.sunset_at, v1.successor) == (later, world.v2)
    assert v1.changelog_url == "https://docs.example.test/payments/v2-migration"


@pytest.mark.django_db
def test_the_version_page_lists_notified_applications_notices_and_history(
    admin_client, admin_user, world
):
    silent = world.subscribers[1]
    silent.organization.contact_email = ""
    silent.organization.save()
    admin_client.post(
        _url("deprecate", world.v1),
        {**_split(timezone.now() + 30 * DAY), "successor": world.v2.pk, "reason": "v2 is out"},
    )
    LifecycleNotice.objects.create(
        api_version=world.v1,
        application=world.subscribers[0],
        kind=LifecycleNotice.Kind.REMINDER,
        lead_days=7,
        sunset_at=timezone.now() + 30 * DAY,
        state=LifecycleNotice.State.FAILED,
        recipient="partner0@example.test",
        attempts=8,
        last_error="SMTPServerDisconnected: the mail server hung up",
    )

    response = admin_client.get(reverse("admin:gateway_apiversion_change", args=[world.v1.pk]))

    assert response.status_code == 200
    tables = response.context["lifecycle"]
    assert tables.notified == world.subscribers
    content = response.content.decode()
    assert "Partner app 0" in content
    assert "partner0@example.test" in content
    assert "no contact address" in content
    assert f"1 subscribed application has no address: Partner app 1 ({silent.organization})" in (
        content
    )
    assert "No usage was recorded in the last 30 days" in content
    assert world.outsider.name not in content
    assert "Failed (retries exhausted)" in content
    assert "SMTPServerDisconnected: the mail server hung up" in content
    assert "published → deprecated" in content
    assert admin_user.username in content
    assert "v2 is out" in content


@pytest.mark.django_db
def test_the_lifecycle_audit_log_is_read_only(admin_client, world, queued):
    admin_client.post(_url("retire", world.v1), {"force": "on", "reason": "gone"})
    event = LifecycleEvent.objects.get()

    assert admin_client.get(reverse("admin:gateway_lifecycleevent_add")).status_code == 403
    changelist = admin_client.get(reverse("admin:gateway_lifecycleevent_changelist"))
    assert changelist.status_code == 200
    assert "Payments v1" in changelist.content.decode()
    page = admin_client.get(reverse("admin:gateway_lifecycleevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert "_save" not in page.content.decode()
    delete = reverse("admin:gateway_lifecycleevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:gateway_lifecycleevent_change", args=[event.pk]), {"reason": "rewritten"}
        ).status_code
        == 403
    )
    assert LifecycleEvent.objects.get().reason == "gone"


def _notice(world: LifecycleWorld, app_index: int, state: str, attempts: int) -> LifecycleNotice:
    return LifecycleNotice.objects.create(
        api_version=world.v1,
        application=world.subscribers[app_index],
        kind=LifecycleNotice.Kind.REMINDER,
        lead_days=7,
        sunset_at=timezone.now() + 7 * DAY,
        state=state,
        recipient=f"partner{app_index}@example.test",
        attempts=attempts,
        last_error="boom" if state == "failed" else "",
    )


@pytest.mark.django_db
def test_retrying_failed_notices_makes_them_pending_from_zero_attempts_and_queues_them(
    admin_client, world, queued
):
    failed = _notice(world, 0, LifecycleNotice.State.FAILED, attempts=8)
    sent = _notice(world, 1, LifecycleNotice.State.SENT, attempts=1)

    response = admin_client.post(
        reverse("admin:gateway_lifecyclenotice_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk], "index": 0},
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.state, failed.attempts, failed.claimed_at) == ("pending", 0, None)
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert queued == [failed.pk]
    assert "1 notice(s) will be sent again now." in _messages(response)


@pytest.mark.django_db
def test_retrying_with_the_broker_down_still_requeues_and_says_the_job_sends_them(
    admin_client, world, unreachable_broker
):
    failed = _notice(world, 0, LifecycleNotice.State.FAILED, attempts=8)

    response = admin_client.post(
        reverse("admin:gateway_lifecyclenotice_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk], "index": 0},
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("pending", 0)
    assert any("next deprecation job run sends them" in m for m in _messages(response))


@pytest.mark.django_db
def test_the_lifecycle_field_cannot_be_changed_through_the_version_form(admin_client, world):
    url = reverse("admin:gateway_apiversion_change", args=[world.v1.pk])
    assert "lifecycle" not in admin_client.get(url).context["adminform"].form.fields
    other_api = factories.api()

    response = admin_client.post(
        url,
        {
            "api": other_api.pk,
            "version": "v1",
            "path_prefix": "/v1-renamed",
            "lifecycle": "retired",
            "retired_at_0": "2020-01-01",
            "retired_at_1": "00:00:00",
            "sunset_at_0": "2020-01-01",
            "sunset_at_1": "00:00:00",
            "routes-TOTAL_FORMS": 0,
            "routes-INITIAL_FORMS": 0,
            "routes-MIN_NUM_FORMS": 0,
            "routes-MAX_NUM_FORMS": 1000,
        },
    )

    assert response.status_code == 302
    version = ApiVersion.objects.get(pk=world.v1.pk)
    assert version.path_prefix == "/v1-renamed"  # the POST was accepted ...
    assert (version.lifecycle, version.retired_at, version.sunset_at) == ("published", None, None)
    assert version.api == world.api  # ... and changed neither the state nor the API
    assert not LifecycleEvent.objects.exists()


@pytest.mark.django_db
def test_a_new_version_added_on_the_api_page_starts_as_a_draft(admin_client, world):
    assert "lifecycle" not in (
        admin_client.get(reverse("admin:gateway_api_change", args=[world.api.pk]))
        .context["inline_admin_formsets"][0]
        .formset.form.base_fields
    )


@pytest.mark.django_db
def test_a_user_without_change_permission_cannot_use_the_lifecycle_views(client, world):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apiversion"))
    client.force_login(viewer)

    assert client.get(_url("deprecate", world.v1)).status_code == 403
    response = client.post(
        _url("retire", world.v1), {"force": "on", "reason": "not mine to retire"}
    )

    assert response.status_code == 403
    assert ApiVersion.objects.get(pk=world.v1.pk).lifecycle == "published"
    page = client.get(reverse("admin:gateway_apiversion_change", args=[world.v1.pk]))
    assert page.status_code == 200
    assert _url("retire", world.v1) not in page.content.decode()


@pytest.mark.django_db
def test_the_default_version_is_chosen_among_the_apis_own_versions(admin_client, world):
    factories.api_version()  # another API's

    page = admin_client.get(reverse("admin:gateway_api_change", args=[world.api.pk]))

    choices = page.context["adminform"].form.fields["default_version"].queryset
    assert set(choices) == {world.v1, world.v2}
    assert "version_header" in page.context["adminform"].form.fields


@pytest.mark.django_db
def test_the_application_page_says_where_its_notices_go(admin_client, world):
    app = world.subscribers[0]

    page = admin_client.get(reverse("admin:gateway_application_change", args=[app.pk]))

    assert "contact_email" in page.context["adminform"].form.fields
    assert "partner0@example.test" in page.content.decode()


@pytest.mark.django_db
def test_the_lifecycle_lists_render(admin_client, world, queued):
    _notice(world, 0, LifecycleNotice.State.FAILED, attempts=8)
    admin_client.post(_url("retire", world.v2), {"force": "on", "reason": "gone"})

    for name in ("apiversion", "lifecycleevent", "lifecyclenotice", "organization", "api"):
        response = admin_client.get(reverse(f"admin:gateway_{name}_changelist"))
        assert response.status_code == 200, name
    filtered = admin_client.get(
        reverse("admin:gateway_lifecyclenotice_changelist"),
        {"api_version__id__exact": world.v1.pk, "state": "failed"},
    )
    assert filtered.context["cl"].result_count == 1


@pytest.mark.django_db
def test_the_reschedule_form_starts_from_the_current_sunset_successor_and_changelog(
    admin_client, world
):
    sunset = (timezone.now() + 30 * DAY).replace(microsecond=0)
    deprecated(world, sunset_at=sunset, now=_now())

    page = admin_client.get(_url("deprecate", world.v1))

    assert page.status_code == 200
    assert page.context["title"] == "Reschedule: Payments v1"
    form = page.context["form"]
    assert (form["sunset_at"].value(), form["successor"].value()) == (sunset, world.v2.pk)
    assert form["changelog_url"].value() == "https://docs.example.test/payments/v2-migration"
    assert list(form.fields["successor"].queryset) == [world.v2]

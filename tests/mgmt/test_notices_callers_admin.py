"""What the API owner sees of the notices' audience in the admin: who is told and on what
grounds, and every caller that cannot be told for want of an address, named."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from mgmt.analytics.models import UsageDay, UsageMinute
from mgmt.gateway import tasks
from mgmt.gateway.models import LifecycleNotice
from tests.mgmt.lifecycle_world import LifecycleWorld, called, lifecycle_world, recorded

pytestmark = [pytest.mark.db, pytest.mark.django_db]
DAY = timedelta(days=1)


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_lifecycle_notice, "delay", sent.append)
    return sent


@pytest.fixture
def world() -> LifecycleWorld:
    """Three subscribers; 0 and 1 called v1 lately, and 1's organization has no address."""
    world = lifecycle_world(subscribers=3)
    now = timezone.now()
    recorded(now - 20 * DAY)
    first, second, _ = world.subscribers
    called(UsageDay, world.v1, first.pk, at=now - 3 * DAY)
    called(UsageMinute, world.v1, second.pk, at=now - timedelta(minutes=2))
    second.organization.contact_email = ""
    second.organization.save()
    return world


def _deprecate(admin_client: Any, world: LifecycleWorld) -> Any:
    sunset = (timezone.now() + 60 * DAY).replace(microsecond=0)
    return admin_client.post(
        reverse("admin:gateway_apiversion_deprecate", args=[world.v1.pk]),
        {
            "sunset_at_0": sunset.strftime("%Y-%m-%d"),
            "sunset_at_1": sunset.strftime("%H:%M:%S"),
            "reason": "v2 is out",
        },
    )


def test_deprecating_tells_the_callers_now_and_names_the_one_with_no_address(
    admin_client: Any, world: LifecycleWorld, queued: list[int]
) -> None:
    first, second, third = world.subscribers
    org = second.organization.name

    response = _deprecate(admin_client, world)

    assert response.status_code == 302
    (pending,) = LifecycleNotice.objects.filter(kind="deprecated", state="pending")
    assert (pending.application, queued) == (first, [pending.pk])
    assert not LifecycleNotice.objects.filter(application=third).exists()
    messages = _messages(response)
    assert "1 deprecation notice(s) are being sent." in messages
    assert any(f"1 caller has no address: Partner app 1 ({org})." in m for m in messages)


def test_the_version_page_lists_only_callers_and_flags_the_one_with_no_address(
    admin_client: Any, world: LifecycleWorld
) -> None:
    first, second, third = world.subscribers

    page = admin_client.get(reverse("admin:gateway_apiversion_change", args=[world.v1.pk]))

    tables = page.context["lifecycle"]
    assert tables.notified == [first, second]
    content = page.content.decode()
    assert "called this version in the last 30 days are told" in content
    assert f"1 caller has no address: Partner app 1 ({second.organization.name})" in content
    assert third.name not in content


def test_the_notices_list_flags_applications_a_notice_found_no_address_for(
    admin_client: Any, world: LifecycleWorld, queued: list[int]
) -> None:
    _deprecate(admin_client, world)
    second = world.subscribers[1]

    listing = admin_client.get(reverse("admin:gateway_lifecyclenotice_changelist"))

    flag = f"1 notified application has no address: Partner app 1 ({second.organization.name})"
    assert flag in listing.content.decode()

    second.contact_email = "ops@partner1.test"  # given an address since: no longer flagged
    second.save()
    listing = admin_client.get(reverse("admin:gateway_lifecyclenotice_changelist"))
    assert "no address" not in listing.content.decode()


def test_without_recorded_usage_the_pages_say_every_subscriber_is_told(
    admin_client: Any,
) -> None:
    world = lifecycle_world(subscribers=2)

    page = admin_client.get(reverse("admin:gateway_apiversion_change", args=[world.v1.pk]))
    transition = admin_client.get(reverse("admin:gateway_apiversion_deprecate", args=[world.v1.pk]))

    assert page.context["lifecycle"].notified == world.subscribers
    for response in (page, transition):
        assert "No usage was recorded in the last 30 days" in response.content.decode()

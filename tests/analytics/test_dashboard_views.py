"""The API owner's dashboard as Django serves it: staff only, the right names in the right
places, gaps shown as gaps, the throttled-now list from the real throttle stream, and a
number of queries that does not grow with the rows."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mgmt.gateway import services
from tests.analytics.dashboard_world import (
    PASSWORD,
    World,
    add_callers,
    build_world,
    throttle,
    throttle_stream_of,
)

pytestmark = [pytest.mark.db, pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def world() -> World:
    return build_world(timezone.now())


@pytest.fixture
def throttle_stream(machine_redis: str, settings: Any) -> Iterator["redis.Redis"]:
    with throttle_stream_of(machine_redis, settings) as client:
        yield client


@pytest.fixture
def staff(client: Client) -> Client:
    user = User.objects.create_user("owner", password=PASSWORD, is_staff=True)
    client.force_login(user)
    return client


URLS = ["analytics:dashboard", "analytics:panel", "analytics:throttled-now"]


def test_admins_landing_page_loads_the_dashboard_first_and_keeps_the_app_list(
    staff: Client,
) -> None:
    User.objects.filter(username="owner").update(is_superuser=True)
    page = staff.get("/admin/").content.decode()
    holder = page.index('data-panel-url="/admin/analytics/panel"')
    assert 0 < holder < page.index('id="app-list"')
    assert "analytics/dashboard.js" in page
    assert reverse("admin:gateway_application_changelist") in page
    assert 'href="/admin/analytics/"' in page  # the dashboard without JavaScript


@pytest.mark.parametrize("name", URLS)
def test_anonymous_visitors_are_sent_to_the_admin_login(
    client: Client, world: World, throttle_stream: Any, name: str
) -> None:
    throttle(throttle_stream, world.flooder, 10)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("name", [*URLS, "analytics:application"])
def test_a_signed_in_partner_who_is_not_staff_sees_nothing(
    client: Client, world: World, throttle_stream: Any, name: str
) -> None:
    throttle(throttle_stream, world.flooder, 10)
    client.force_login(User.objects.create_user("partner", password=PASSWORD))
    args = [world.flooder.application.pk] if name == "analytics:application" else []
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert b"Flooder" not in response.content


def test_the_panel_names_versions_consumers_and_error_clusters(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    page = staff.get(reverse("analytics:panel"), {"range": "1h"}).content.decode()
    versions = section(page, "tg-version-table")
    assert versions.index("Orders v1") < versions.index("Orders v2")
    consumers = section(page, "tg-consumers-table")
    assert consumers.index("Flooder") < consumers.index("Polite")
    assert "Acme Flooders" in consumers and "Calm Corp" in consumers
    # Flooder: 5 minutes of 100, plus 300 refused; 300 throttled.
    assert re.search(r"Flooder</a></th>\s*<td>Acme Flooders</td>\s*<td[^>]*>800<", consumers)
    owner_page = reverse("analytics:application", args=[world.flooder.application.pk])
    assert f'href="{owner_page}"' in consumers
    clusters = section(page, "tg-clusters-table")
    assert "GET /orders" in clusters and "5xx" in clusters and "4xx" in clusters
    assert "Orders" in clusters


def test_a_range_picks_its_resolution_and_keeps_the_focus(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    version = world.orders_v1.pk
    page = staff.get(
        reverse("analytics:panel"), {"range": "7d", "version": str(version)}
    ).content.decode()
    assert '<strong aria-current="true">7 days</strong>' in page
    assert f'href="?range=1h&amp;version={version}"' in page
    assert "Requests per hour: Orders v1" in page
    unknown = staff.get(reverse("analytics:panel"), {"range": "forever"}).content.decode()
    assert '<strong aria-current="true">24 h</strong>' in unknown


def test_a_collector_gap_is_a_labelled_band_and_breaks_the_line(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    page = staff.get(reverse("analytics:panel"), {"range": "1h"}).content.decode()
    chart = re.search(r'<svg[^>]*id="tg-traffic".*?</svg>', page, re.S)
    assert chart is not None
    svg = chart.group(0)
    assert 'data-coverage="gap"' in svg
    assert "no data (collector gap)" in svg
    requests_paths = re.findall(r'<path class="tg-series tg-series-0" data-series="requests"', svg)
    # Traffic before the gap and after it: two separate lines, nothing drawn in the gap.
    assert len(requests_paths) >= 2
    assert "5 buckets of this range had no collector reporting" in page


def test_the_week_over_week_and_the_underused_lists(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    page = staff.get(reverse("analytics:panel")).content.decode()
    gaining, losing = section(page, "tg-gaining", "ul"), section(page, "tg-losing", "ul")
    assert "Orders" in gaining and "+900 %" in gaining
    assert "Legacy" in losing and "-90 %" in losing
    underused = section(page, "tg-underused-table")
    assert "Quiet v1" in underused and "Orders v2" in underused
    assert "Orders v1" not in underused and "Legacy v1" not in underused


def test_the_throttled_list_names_application_organization_plan_key_limit_and_suspension(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    throttle(throttle_stream, world.flooder, 40, limit="plan:bronze:10 per second")
    throttle(throttle_stream, world.flooder, 25, limit="plan:bronze:10 per second")
    fragment = staff.get(reverse("analytics:throttled-now"))
    assert "no-store" in fragment["Cache-Control"]
    row = section(fragment.content.decode(), "tg-throttled-table")
    flooder = world.flooder
    assert "Flooder" in row and "Acme Flooders" in row and "Bronze" in row
    assert f"tg_{flooder.key.key_id}_…" in row
    assert "plan:bronze:10 per second: 65" in row
    assert "Bronze: 10 per 1 second, 50000 per month (quota)" in row
    assert re.search(r'class="num tg-count">65<', row)
    suspend = reverse("admin:gateway_subscription_change", args=[flooder.subscription.pk])
    assert f'href="{suspend}"' in row
    assert "Polite" not in row


def test_revoked_keys_are_not_listed_as_the_throttled_applications_keys(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    old = services.create_api_key(application=world.flooder.application).api_key
    services.revoke_api_key(api_key=old)
    throttle(throttle_stream, world.flooder, 3)
    row = section(
        staff.get(reverse("analytics:throttled-now")).content.decode(), "tg-throttled-table"
    )
    assert f"tg_{world.flooder.key.key_id}_…" in row
    assert f"tg_{old.key_id}_" not in row


def test_throttle_events_older_than_a_minute_are_not_throttling_now(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    (seconds, micros) = throttle_stream.time()
    old_ms = seconds * 1000 + micros // 1000 - 61_000
    throttle(throttle_stream, world.polite, 99, id=f"{old_ms}-0")
    throttle(throttle_stream, world.flooder, 5)
    page = staff.get(reverse("analytics:throttled-now")).content.decode()
    assert "Flooder" in page and "Polite" not in page


def test_nobody_throttled_says_so(staff: Client, world: World, throttle_stream: Any) -> None:
    page = staff.get(reverse("analytics:throttled-now")).content.decode()
    assert "data-throttled-empty" in page


def test_an_unreachable_redis_says_unavailable_rather_than_nobody(
    staff: Client, world: World, settings: Any
) -> None:
    settings.TOLLGATE_ANALYTICS_REDIS_URL = "redis://127.0.0.1:1/0"
    page = staff.get(reverse("analytics:throttled-now")).content.decode()
    assert "data-throttled-unavailable" in page
    assert "data-throttled-empty" not in page
    assert staff.get(reverse("analytics:panel")).status_code == 200


def test_a_deleted_application_keeps_its_counts_under_its_id(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    gone = world.flooder.application.pk
    throttle(throttle_stream, world.flooder, 4)
    world.flooder.application.delete()
    page = staff.get(reverse("analytics:panel"), {"range": "1h"}).content.decode()
    assert f"deleted application #{gone}" in section(page, "tg-consumers-table")
    assert f"deleted application #{gone}" in section(page, "tg-throttled-table")


def test_the_application_page_shows_its_traffic_and_throttles(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    throttle(throttle_stream, world.flooder, 12)
    throttle(throttle_stream, world.polite, 1)
    url = reverse("analytics:application", args=[world.flooder.application.pk])
    page = staff.get(url, {"range": "1h"}).content.decode()
    assert "Traffic of Flooder" in page
    assert re.search(r'id="tg-app-throttled-total">300<', page)
    assert f"tg_{world.flooder.key.key_id}_…" in page
    throttled = section(page, "tg-throttled-table")
    assert "Flooder" in throttled and "Polite" not in throttled
    polled = f"/admin/analytics/throttled-now?application={world.flooder.application.pk}"
    assert f'data-throttled-url="{polled}"' in page
    assert "Orders v1" in page


def test_the_application_change_page_links_to_its_traffic(staff: Client, world: World) -> None:
    User.objects.filter(username="owner").update(is_superuser=True)
    app = world.flooder.application
    page = staff.get(reverse("admin:gateway_application_change", args=[app.pk])).content.decode()
    assert f'href="{reverse("analytics:application", args=[app.pk])}"' in page


def test_an_unknown_application_is_404(staff: Client, world: World) -> None:
    assert staff.get(reverse("analytics:application", args=[999_999])).status_code == 404


def panel_queries(staff: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = staff.get(reverse("analytics:panel"), {"range": "1h"})
    assert response.status_code == 200
    return len(captured)


def test_the_panel_costs_the_same_queries_for_2_or_30_applications(
    staff: Client, world: World, throttle_stream: Any
) -> None:
    for who in (world.flooder, world.polite):
        throttle(throttle_stream, who, 3)
    few = panel_queries(staff)

    for who in add_callers(world, 28):
        throttle(throttle_stream, who, 3)
    many = panel_queries(staff)
    assert many == few
    assert few <= 30


def section(page: str, element_id: str, tag: str = "table") -> str:
    """The element with this id (its tag given), up to its end."""
    start = page.index(f'id="{element_id}"')
    return page[start : page.index(f"</{tag}>", start)]

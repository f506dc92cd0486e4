"""The API owner's dashboard in a real headless Chromium: admin's landing page loads it with
generated rollups and throttle events, the throttled-now list follows the stream without a
reload, and the lists lead to one application's page. Screenshots are kept as artifacts."""

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from accesslog import histogram
from mgmt.analytics.models import Coverage, UsageDay, UsageHour, UsageMinute, UsageRow
from mgmt.analytics.timeline import DAY, HOUR, MINUTE, floor
from tests.analytics.dashboard_world import (
    GAP_MINUTES_AGO,
    NODE,
    PASSWORD,
    World,
    build_world,
    caller,
    throttle,
    throttle_stream_of,
)
from tests.browser import DASHBOARD_VIEWPORT, admin_log_in, browser_context, screenshot
from tests.mgmt import factories

pytestmark = [
    pytest.mark.browser,
    pytest.mark.db,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def stream(machine_redis: str, settings: Any) -> Iterator["redis.Redis"]:
    with throttle_stream_of(machine_redis, settings) as client:
        yield client


COUNTERS = ("requests", "errors", "throttled", "bytes_in", "bytes_out", "duration_us_sum")
DIMS = ("api_id", "version_id", "route_id", "application_id", "status_class")


def steady_traffic(world: World, hours: int = 26) -> None:
    """A day of a steady reader's calls on Orders v1 (a wave, some 5xx), the collector's
    coverage of it (one stretch only partly covered), and the hour and day rollups of
    every minute row, as the fold leaves them."""
    plan = world.flooder.subscription.plan
    steady = caller(plan, "Steady Reader", factories.organization(name="Steady Ltd")).application
    minute = floor(world.now, MINUTE)
    route = world.route
    dims = {"api_id": route.api_version.api_id, "version_id": route.api_version_id}
    rows = []
    for ago in range(3, hours * 60):
        if ago in GAP_MINUTES_AGO:
            continue  # nothing was collected then
        n = int(40 + 25 * math.sin(ago / 45))
        millis = 8 + (ago % 20)
        common = {**dims, "route_id": route.pk, "application_id": steady.pk}
        rows.append(
            UsageMinute(
                bucket=minute - ago * MINUTE,
                status_class="2xx",
                requests=n,
                duration_us_sum=n * millis * 1000,
                histogram=histogram.encode({histogram.bucket_of(millis * 1000): n}),
                **common,
            )
        )
        if ago % 17 == 0:
            rows.append(
                UsageMinute(
                    bucket=minute - ago * MINUTE,
                    status_class="5xx",
                    requests=3,
                    errors=3,
                    histogram=histogram.encode({histogram.bucket_of(250_000): 3}),
                    **common,
                )
            )
    UsageMinute.objects.bulk_create(rows)
    Coverage.objects.bulk_create(
        Coverage(bucket=minute - ago * MINUTE, node=NODE, seconds=30 if ago < 320 else 60)
        for ago in range(180, hours * 60)
    )
    roll_up()


def roll_up() -> None:
    for model, step in ((UsageHour, HOUR), (UsageDay, DAY)):
        sums: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
            lambda: {**dict.fromkeys(COUNTERS, 0), "histogram": {}}
        )
        for row in UsageMinute.objects.all():
            total = sums[(floor(row.bucket, step), *(getattr(row, d) for d in DIMS))]
            for name in COUNTERS:
                total[name] += getattr(row, name)
            histogram.merge(total["histogram"], histogram.decode(row.histogram))
        target: type[UsageRow] = model
        target._default_manager.bulk_create(
            target(
                bucket=key[0],
                **dict(zip(DIMS, key[1:], strict=True)),
                **{name: total[name] for name in COUNTERS},
                histogram=histogram.encode(total["histogram"]),
            )
            for key, total in sums.items()
        )


@pytest.fixture
def world(settings: Any) -> World:
    # These tests look at pages, not snapshots: no compile after every commit.
    settings.TOLLGATE_AUTO_PUBLISH = False
    # Written before Playwright starts: inside its event loop the ORM would take a
    # connection the database teardown never sees closed.
    User.objects.create_superuser("owner", "owner@example.com", PASSWORD)
    world = build_world(timezone.now())
    steady_traffic(world)
    return world


@pytest.fixture
def page(live_server: Any, world: World) -> Iterator[Page]:
    with browser_context(live_server.url, viewport=DASHBOARD_VIEWPORT) as context:
        yield context.new_page()


def log_in(page: Page) -> None:
    admin_log_in(page, "owner", PASSWORD)


def test_the_landing_page_shows_the_dashboard_and_follows_the_throttle_stream(
    page: Page, world: World, stream: "redis.Redis"
) -> None:
    throttle(stream, world.flooder, 30, limit="plan:bronze")
    log_in(page)
    assert page.url.endswith("/admin/")

    throttled = page.locator("#tg-throttled-table")
    flooder_row = throttled.locator("tr", has_text="Flooder")
    expect(flooder_row).to_contain_text("Acme Flooders")
    expect(flooder_row).to_contain_text("Bronze")
    expect(flooder_row).to_contain_text(f"tg_{world.flooder.key.key_id}_")
    expect(
        page.get_by_role("img", name=re.compile("^Requests per hour: all traffic"))
    ).to_be_visible()
    expect(page.locator("#tg-consumers-table")).to_contain_text("Calm Corp")
    # The app list stays on the landing page, below the dashboard.
    expect(page.locator("#app-list").get_by_role("link", name="Applications")).to_be_visible()
    screenshot(page, "analytics/landing")

    page.evaluate("window.__sameDocument = true")
    throttle(stream, world.polite, 3, limit="plan:bronze")
    expect(throttled.locator("tr", has_text="Polite")).to_be_visible(timeout=6_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    expect(page.locator("[data-throttled-status]")).to_contain_text("Updated")
    screenshot(page, "analytics/throttled-updated")

    flooder_row.get_by_role("link", name="Flooder").click()
    expect(page.get_by_role("heading", name="Throttled right now")).to_be_visible()
    expect(page.locator("#tg-throttled-table")).to_contain_text("Flooder")
    expect(page.locator("#tg-throttled-table")).not_to_contain_text("Polite")
    screenshot(page, "analytics/application")


def test_a_collector_gap_is_drawn_as_a_labelled_gap_on_the_one_hour_range(
    page: Page, world: World, stream: "redis.Redis"
) -> None:
    log_in(page)
    page.goto("/admin/analytics/?range=1h")
    chart = page.locator("svg#tg-traffic")
    expect(chart.locator("rect[data-coverage='gap']")).to_have_count(1)
    expect(chart.locator("path[data-series='requests']")).to_have_count(2)
    expect(page.locator("[data-coverage-note]")).to_contain_text("no collector reporting")
    expect(page.locator("[data-throttled-empty]")).to_be_visible()
    screenshot(page, "analytics/one-hour-with-gap")

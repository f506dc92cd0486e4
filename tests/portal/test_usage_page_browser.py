"""The usage page in a real headless Chromium: from the dashboard's summary to an
application's page, whose totals, table and chart show the rollups' numbers, and whose
date inputs change the range."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from mgmt.analytics.models import UsageDay
from mgmt.gateway.models import Application, Subscription
from tests.browser import browser_context
from tests.portal.conftest import Catalog, Tenant

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.django_db(transaction=True)]


def _row(app: Application, api_id: int, day: date, requests: int, **more: Any) -> None:
    UsageDay.objects.create(
        bucket=datetime.combine(day, time.min, tzinfo=UTC),
        api_id=api_id,
        version_id=1,
        route_id=0,
        application_id=app.pk,
        status_class=more.pop("status_class", "2xx"),
        requests=requests,
        **more,
    )


@pytest.fixture
def page(live_server: Any, alice: Tenant, settings: Any) -> Iterator[Page]:
    """Chromium signed in as alice (her session's cookie, no log-in form)."""
    settings.TOLLGATE_COUNTERS_REDIS_URL = ""
    client = Client()
    client.force_login(alice.owner)
    cookie = client.cookies["sessionid"].value
    with browser_context(live_server.url) as context:
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        yield context.new_page()


def test_a_partner_reads_an_applications_usage_from_the_dashboard(
    page: Page, alice: Tenant, catalog: Catalog
) -> None:
    today = timezone.now().date()
    api = catalog.version.api.pk
    _row(alice.application, api, today - timedelta(days=1), 1500)
    _row(alice.application, api, today - timedelta(days=1), 25, status_class="5xx", errors=25)
    _row(alice.application, api, today - timedelta(days=20), 300, status_class="4xx", throttled=3)
    # Its current billing period began 9 to 12 days ago, after the oldest row.
    Subscription.objects.filter(pk=alice.subscription.pk).update(
        started_at=timezone.now() - timedelta(days=40)
    )

    page.goto("/portal/")
    summary = page.get_by_role("table", name="Usage of Alice Corp's applications")
    expect(summary.get_by_role("row", name="Alice Checkout")).to_contain_text("1,525")
    page.get_by_role("link", name="Usage and quotas of Alice Checkout").click()

    expect(page.get_by_role("heading", name="Usage of Alice Checkout")).to_be_visible()
    expect(page.locator("#total-calls")).to_have_text("1,825")
    expect(page.locator("#total-errors")).to_have_text("25")
    expect(page.locator("#total-throttled")).to_have_text("3")
    expect(page.get_by_role("img", name="Calls of Alice Checkout per day")).to_be_visible()
    quota = page.locator("table.quotas").get_by_role("row", name="Demo")
    expect(quota).to_contain_text("about 1,525")  # estimated: no counters' Redis here
    expect(quota).to_contain_text("10,000")

    page.get_by_label("From:", exact=True).fill((today - timedelta(days=2)).isoformat())
    page.get_by_label("To:", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#total-calls")).to_have_text("1,525")
    expect(page.locator("table.usage tbody tr")).to_have_count(1)
    assert f"from={(today - timedelta(days=2)).isoformat()}" in page.url

"""The invoices pages in a real headless Chromium: from the dashboard to the organization's
invoices, then an invoice's printable page, whose total is the invoice's and whose print
rendering drops the portal around it; a running draft's carries the watermark."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from tests.browser import browser_context, screenshot
from tests.portal.conftest import Tenant
from tests.portal.test_billing_pages import bill_alice_and_bob

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server: Any, alice: Tenant) -> Iterator[Page]:
    """Chromium signed in as alice, the owner (her session's cookie, no log-in form)."""
    client = Client()
    client.force_login(alice.owner)
    cookie = client.cookies["sessionid"].value
    with browser_context(live_server.url) as context:
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        yield context.new_page()


def test_a_partner_opens_an_invoice_from_the_dashboard_and_prints_it(
    page: Page, alice: Tenant, bob: Tenant
) -> None:
    billed = bill_alice_and_bob(alice, bob)

    page.goto("/portal/")
    page.get_by_role("link", name="Invoices", exact=True).click()

    expect(page.get_by_role("heading", name="Invoices of Alice Corp")).to_be_visible()
    running = page.get_by_role("table", name="Running this period")
    expect(running.get_by_role("row", name="Alice Checkout")).to_contain_text("4,321")
    issued = page.get_by_role("table", name="Invoices", exact=True)
    row = issued.get_by_role("row", name="INV-ACME-000001")
    expect(row).to_contain_text("1,234.50 EUR")
    expect(issued).not_to_contain_text(billed.bobs.number)
    row.get_by_role("link", name="INV-ACME-000001").click()

    expect(page.get_by_role("heading", name="Invoice INV-ACME-000001")).to_be_visible()
    expect(page.locator("#invoice-total")).to_have_text("1,234.50 EUR")
    expect(page.locator("#invoice-balance")).to_have_text("1,200.00 EUR")
    expect(page.locator("#invoice-issuer")).to_have_text("Acme APIs")
    expect(page.locator("#invoice-partner")).to_have_text("Alice Corp")
    expect(page.locator(".watermark")).to_have_count(0)

    # On paper: the invoice alone, without the portal's header and links.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_text("Back to the invoices")).to_be_hidden()
    expect(page.locator("#invoice-total")).to_be_visible()
    screenshot(page, "portal/invoice-print")

    page.emulate_media(media="screen")
    page.go_back()
    running.get_by_role("link", name="Running draft of Alice Checkout for Demo").click()
    expect(page.get_by_role("heading", name=f"Running draft {billed.draft.pk}")).to_be_visible()
    expect(page.locator(".watermark")).to_have_text("DRAFT — running")
    expect(page.locator("#invoice-total")).to_have_text("1,000.00 EUR")
    screenshot(page, "portal/invoice-draft")

"""A partner clicks through the developer portal in a real headless Chromium and calls the
gateway: sign up, confirm from the mail, log in, create an application and a key, subscribe
it to the free plan in the catalog, call the demo API through Envoy (200), read the
reference, revoke the key (401 through Envoy within two seconds). And the mailed links:
their codes ride in the fragment, reach the server in POST bodies only, and work once."""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from playwright.sync_api import BrowserContext, Page, Request, expect

from mgmt.developers import accounts
from mgmt.embedded.demo_data import DEMO_PARTNER_EMAIL
from mgmt.gateway.models import ApiVersion, Organization, Role
from tests.browser import browser_context, screenshot
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import request
from tests.e2e.scenario import Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "browser@example.com"
PASSWORD = "a long partner passphrase"


@pytest.fixture
def page(gateway: Gateway) -> Iterator[Page]:
    with browser_context(gateway.mgmt_url) as context:
        yield context.new_page()


def _status(port: int, key: str) -> int:
    return request(port, "/demo/hello", {"x-api-key": key}).status


def test_a_partner_goes_from_sign_up_to_a_call_through_envoy_in_the_browser(
    gateway: Gateway, scenario: Scenario, page: Page
) -> None:
    mail.outbox.clear()
    page.goto("/portal/signup")
    page.get_by_label(re.compile("^Email address")).fill(EMAIL)
    page.get_by_label(re.compile("^Your name")).fill("Bea")
    page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    page.get_by_label(re.compile("^Organization")).fill("Browser Ltd")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text(f"We mailed a confirmation link to {EMAIL}")).to_be_visible()

    (message,) = [m for m in mail.outbox if m.to == [EMAIL]]
    link = re.search(r"https?://[^/\s]+(/portal/verify#\S+)", message.body)
    assert link is not None, message.body
    # The page's script posts the code from the link's fragment, then lands on log-in.
    page.goto(link.group(1))
    expect(page.get_by_text("Your email address is confirmed")).to_be_visible()
    assert page.url.endswith("/portal/login")

    page.get_by_label(re.compile("^Email address")).fill(EMAIL)
    page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Browser Ltd")).to_be_visible()

    page.get_by_role("link", name="Manage or create applications").click()
    page.get_by_label(re.compile("^Name")).fill("Storefront")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name="Storefront", exact=True)).to_be_visible()
    app_url = page.url

    page.get_by_label(re.compile("^Label")).fill("prod")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("it is shown this once")).to_be_visible()
    secret = page.get_by_label(re.compile("^API key")).input_value()
    assert re.fullmatch(r"tg_[a-z2-7]{12}_[A-Za-z0-9_-]{20,}", secret), secret
    screenshot(page, "portal/key-reveal")

    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name="Demo", exact=True).click()
    page.get_by_role("radio", name="Free", exact=True).check()
    page.get_by_label(re.compile("^Application")).select_option(label="Storefront (Browser Ltd)")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("Storefront is subscribed to Demo on Free")).to_be_visible()
    assert page.url == app_url
    # The application page lists the key by its id only: the secret is gone for good.
    assert secret not in page.content()
    expect(page.get_by_role("cell", name="Active")).to_be_visible()
    screenshot(page, "portal/application")

    port = gateway.ports.gateway
    wait_until(lambda: _status(port, secret) == 200, timeout=5, what="the subscribed key admits")
    seen = request(port, "/demo/hello", {"x-api-key": secret}).json()
    assert seen["headers"]["x-plan"] == "free"
    assert seen["headers"]["x-consumer-id"] == "browser-ltd"

    page.goto("/portal/catalog/demo")
    page.get_by_role("link", name="Demo API v1 reference").click()
    # Redoc renders the document it fetched from the sibling URL: the operation and the
    # description exist only in the OpenAPI document, not in our own markup.
    reference = page.locator("redoc")
    expect(reference.get_by_text("Say hello").first).to_be_visible()
    expect(reference.get_by_text("Echoes the request it receives").first).to_be_visible()
    screenshot(page, "portal/docs")

    page.goto(app_url)
    page.get_by_role("button", name=re.compile("^Revoke tg_")).click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    revoked_at = time.monotonic()
    wait_until(lambda: _status(port, secret) == 401, timeout=2.0, what="the revoked key refused")
    assert time.monotonic() - revoked_at < 2.0
    screenshot(page, "portal/revoked")


HOSTILE_DOCUMENT = """openapi: 3.0.3
info:
  title: Hostile API
  version: "1"
  description: |
    Looks harmless. <img src="/nothing.png" onerror="window.__ran = 'img'">
    <script>window.__ran = 'script'</script>
paths:
  /hello:
    get:
      summary: Say hello
      responses: {"200": {description: ok}}
"""


@pytest.fixture
def hostile_document(scenario: Scenario) -> None:
    # Written before Playwright starts: inside its event loop the ORM would take a
    # connection of that loop's context, which the database teardown never sees closed.
    ApiVersion.objects.filter(api__slug="demo", version="v1").update(
        openapi_document=HOSTILE_DOCUMENT
    )


@pytest.mark.usefixtures("hostile_document")
def test_an_api_owners_document_runs_no_script_in_a_partners_browser(page: Page) -> None:
    # Another organization wrote the document: its HTML is shown as text, never run.
    page.goto("/portal/login")
    page.get_by_label(re.compile("^Email address")).fill(DEMO_PARTNER_EMAIL)
    page.get_by_label(re.compile("^Password")).fill("pw-e2e")
    page.get_by_role("button", name="Log in").click()
    page.goto("/portal/docs/demo/v1")
    expect(page.get_by_text("Say hello").first).to_be_visible()
    expect(page.get_by_text("Looks harmless.").first).to_be_visible()
    page.wait_for_timeout(500)  # an <img> error handler would have fired by now
    assert page.evaluate("window.__ran") is None


# --- mailed links: the secret travels in the fragment and the POST body only ------------

RESET_EMAIL = "reset@example.com"
INVITEE_EMAIL = "invitee@example.com"


@dataclass
class SentRequests:
    """Every request the browser made: its URL and its Referer."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def record(self, sent: Request) -> None:
        self.seen.append((sent.url, sent.headers.get("referer", "")))

    def assert_nowhere(self, secret: str) -> None:
        leaked = [(url, referer) for url, referer in self.seen if secret in url + referer]
        assert not leaked, leaked
        assert self.seen


@pytest.fixture
def portal(live_server: Any) -> Iterator[tuple[BrowserContext, SentRequests]]:
    """A browser on the portal alone (no gateway needed), recording what it sends."""
    sent = SentRequests()
    with browser_context(live_server.url) as context:
        context.on("request", sent.record)
        yield context, sent


@pytest.fixture
def accounts_to_mail() -> Organization:
    """Written before Playwright starts (see hostile_document): a verified account to
    reset, an owner, and a verified invitee whose invitation is in mail.outbox."""
    mail.outbox.clear()
    for email in (RESET_EMAIL, INVITEE_EMAIL, "owner@example.com"):
        user = accounts.sign_up(email=email, password=PASSWORD, organization_name=email).user
        accounts.verify_email(token=accounts.verification_token(user))
    owner = User.objects.get(username="owner@example.com")
    organization = Organization.objects.get(memberships__user=owner)
    accounts.invite(organization=organization, by=owner, email=INVITEE_EMAIL, role=Role.BILLING)
    return organization


def _mailed_link(to: str, page: str) -> tuple[str, str]:
    """(the link's path and fragment, its code) from the last mail to `to`."""
    (message,) = [m for m in mail.outbox if m.to == [to] and f"{page}#" in m.body][-1:]
    link = re.search(rf"https?://[^/\s]+({re.escape(page)}#(\S+))", message.body)
    assert link is not None, message.body
    return link.group(1), link.group(2)


@pytest.mark.usefixtures("accounts_to_mail")
def test_a_reset_link_works_once_and_its_code_is_in_no_url_the_browser_sends(
    portal: tuple[BrowserContext, SentRequests],
) -> None:
    context, sent = portal
    page = context.new_page()
    page.goto("/portal/password-reset")
    page.get_by_label(re.compile("^Email address")).fill(RESET_EMAIL)
    page.get_by_role("button", name="Mail me a reset link").click()
    expect(page.get_by_text("a mail with a reset link is on its way")).to_be_visible()
    link, code = _mailed_link(RESET_EMAIL, "/portal/password-reset/confirm")

    page.goto(link)
    expect(page.get_by_text("Your reset link is recognised")).to_be_visible()
    expect(page.get_by_label("Reset code")).to_be_hidden()
    # Out of the address bar and of this history entry.
    assert page.evaluate("location.hash") == "" and "#" not in page.url
    assert page.url.endswith("/portal/password-reset/confirm")
    screenshot(page, "portal/reset-from-link")
    page.get_by_label(re.compile("^New password")).fill("a brand new passphrase")
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_text("Your password is set")).to_be_visible()
    page.get_by_label(re.compile("^Email address")).fill(RESET_EMAIL)
    page.get_by_label(re.compile("^Password")).fill("a brand new passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Manage or create applications").first).to_be_visible()

    replay = context.new_page()
    replay.goto(link)
    replay.get_by_label(re.compile("^New password")).fill("an attacker's passphrase")
    replay.get_by_role("button", name="Set the password").click()
    expect(replay.get_by_role("heading", name="This reset link is not valid")).to_be_visible()
    expect(replay.get_by_text("Your password has not changed")).to_be_visible()
    sent.assert_nowhere(code)
    sent.assert_nowhere(code.split(".", 1)[1])


def test_an_invitee_logs_in_from_the_invitation_and_accepts_it(
    accounts_to_mail: Organization, portal: tuple[BrowserContext, SentRequests]
) -> None:
    context, sent = portal
    link, code = _mailed_link(INVITEE_EMAIL, "/portal/invitations/accept")
    page = context.new_page()
    page.goto(link)
    # The script posted the code: the invitation shows what it offers before anything.
    expect(page.get_by_text(f"You were invited to join {accounts_to_mail.name}")).to_be_visible()
    assert "#" not in page.evaluate("location.href")
    page.get_by_role("link", name="Log in to accept").click()
    page.get_by_label(re.compile("^Email address")).fill(INVITEE_EMAIL)
    page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Back on the invitation's page: the code waited in this tab, never on the server.
    page.get_by_role("button", name="Accept the invitation").click()
    expect(page.get_by_text(f"You joined {accounts_to_mail.name} as billing")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    sent.assert_nowhere(code)


@pytest.mark.usefixtures("accounts_to_mail")
def test_without_javascript_the_code_from_the_mail_is_pasted(live_server: Any) -> None:
    with browser_context(live_server.url, java_script_enabled=False) as context:
        page = context.new_page()
        page.goto("/portal/signup")
        page.get_by_label(re.compile("^Email address")).fill("nojs@example.com")
        page.get_by_label(re.compile("^Password")).fill(PASSWORD)
        page.get_by_label(re.compile("^Organization")).fill("No Script Ltd")
        page.get_by_role("button", name="Sign up").click()
        link, code = _mailed_link("nojs@example.com", "/portal/verify")
        page.goto(link)
        page.get_by_label("Confirmation code").fill(code)
        page.get_by_role("button", name="Confirm my address").click()
        expect(page.get_by_text("Your email address is confirmed")).to_be_visible()
        screenshot(page, "portal/verified-without-script")

        page.goto("/portal/verify/an-old-style-token")
        expect(page.get_by_text("This link is no longer valid")).to_be_visible()


def test_an_old_link_leaves_the_address_bar(portal: tuple[BrowserContext, SentRequests]) -> None:
    context, _ = portal
    page = context.new_page()
    page.goto("/portal/password-reset/Mw/an-old-style-token")
    expect(page.get_by_role("heading", name="This link is no longer valid")).to_be_visible()
    expect(page.get_by_role("link", name="Ask for a new reset link")).to_be_visible()
    assert page.evaluate("location.pathname") == "/portal/password-reset"

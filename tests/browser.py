"""Debian's headless Chromium, driven by Playwright, for the browser tests: one browser and
context per use, screenshots kept as artifacts, and admin's log-in form."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, sync_playwright

# Playwright's sync API keeps an event loop running in this thread, and Django refuses
# database work (the fixtures' flush) in a thread with a running loop unless told to.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Wide enough for the dashboard's tables and charts side by side.
DASHBOARD_VIEWPORT = {"width": 1400, "height": 900}


@contextmanager
def browser_context(base_url: str, **options: Any) -> Iterator[BrowserContext]:
    """A context of a fresh Chromium on `base_url` (Playwright's new_context `options`),
    waiting at most 10 s for anything; the browser is closed on the way out."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url, **options)
            context.set_default_timeout(10_000)
            yield context
        finally:
            browser.close()
            _close_database_connections()


def _close_database_connections() -> None:
    """The connections the test opened while Playwright's loop ran: asgiref keeps them apart
    from the thread's own, so nothing else closes them, and one left idle kept pytest-django
    from dropping the test database."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def screenshot(page: Page, name: str) -> Path:
    """The whole page as test-artifacts/<name>.png (`name` as "portal/docs"), never an
    older run's file."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.exists() and path.stat().st_size > 0, path
    return path


def admin_log_in(page: Page, username: str, password: str) -> None:
    """Through admin's own log-in form, landing on admin's index."""
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()

"""Shared test setup: a reachable PostgreSQL is required in CI, never silently skipped."""

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") == "true" and "postgresql" not in os.environ.get(
        "TOLLGATE_DATABASE_URL", ""
    ):
        raise pytest.UsageError(
            "CI runs the suite on PostgreSQL: set TOLLGATE_DATABASE_URL (make test does)"
        )


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> None:
    """Throttle counts live in Django's cache; each test starts with none, as a fresh
    deployment does. Only a process-local cache is cleared, never a shared Redis."""
    from django.conf import settings

    if not settings.configured:
        return
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        from django.core.cache import cache

        cache.clear()

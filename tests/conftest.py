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

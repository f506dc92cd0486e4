"""Shared test setup: a reachable PostgreSQL is required in CI, never silently skipped; the
machine's Redis, and a redis-server of a test's own (tests/redis_server.py)."""

import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from mgmt.embedded.processes import ProcessGroup, free_port
from tests.redis_server import OwnRedis

MACHINE_REDIS = os.environ.get("TOLLGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's, and before it drops the test database: held snapshot requests are
    answered and the snapshot feed's listener (a connection of its own) is closed."""
    yield
    from mgmt.gateway import snapshot_feed

    snapshot_feed.shut_down()


def pytest_warning_recorded(warning_message: warnings.WarningMessage) -> None:
    """When pytest-django cannot drop the test database, name the sessions that kept it (they
    are usually gone a moment later)."""
    if "teardown test databases" not in str(warning_message.message):
        return
    from django.db import connection

    name = connection.settings_dict["NAME"]  # still the test database's: its drop failed
    print(f"\n{name} kept by: {_sessions_on(connection.settings_dict, name)}", file=sys.__stderr__)


def _sessions_on(db: dict[str, Any], name: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(
        dbname="postgres", user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    ) as admin:
        return admin.execute(
            "SELECT pid, application_name, state, backend_start, left(query, 160) "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()


@pytest.fixture(scope="session")
def machine_redis() -> str:
    """The machine's Redis: a test that needs it fails (never skips) when it is down."""
    try:
        redis.Redis.from_url(MACHINE_REDIS, socket_timeout=1).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {MACHINE_REDIS} is required for this test: {error}")
    return MACHINE_REDIS


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test's own, not yet started (the test starts it); every
    process it started is stopped after the test."""
    group = ProcessGroup(log_dir=tmp_path / "logs")
    server = OwnRedis(group, free_port(), tmp_path / "redis")
    try:
        yield server
    finally:
        group.stop_all()

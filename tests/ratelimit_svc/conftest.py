"""Redis for the rate-limit tests: the machine's (shared, keys isolated per test), or our own
(the `own_redis` fixture of tests/conftest.py)."""

import uuid

import pytest


@pytest.fixture
def unique() -> int:
    """A subscription id no other test (or earlier run) has counted against."""
    return uuid.uuid4().int % 10**15

"""The portal's helpers without a database: attempt budgets and how limits are written."""

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from mgmt.devapi.throttles import SignUpThrottle
from mgmt.portal import throttle
from mgmt.portal.templatetags.portal_format import per_window, thousands, when

pytestmark = [pytest.mark.pure]


def test_the_budget_is_per_address_and_a_forged_forwarded_for_buys_no_more(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "signup": "3/hour",
            "login": "3/minute",
            "key_creation": "3/hour",
        },
    }
    cache.clear()
    factory = RequestFactory()
    spoofing = [
        factory.post("/portal/login", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
        for i in range(4)
    ]
    waits = [throttle.spend_attempt(request, "login") for request in spoofing]
    assert waits[:3] == [None, None, None]
    assert waits[3] is not None and 1 <= waits[3] <= 60
    there = factory.post("/portal/login", REMOTE_ADDR="10.0.0.2")
    assert throttle.spend_attempt(there, "login") is None
    assert throttle.spend_attempt(there, "signup") is None  # another door, another budget
    cache.clear()


def test_the_portal_and_the_api_spend_one_budget(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"signup": "2/hour", "login": "2/hour", "key_creation": "2/hour"},
    }
    cache.clear()
    request = RequestFactory().post("/portal/signup", REMOTE_ADDR="10.0.0.3")
    assert throttle.spend_attempt(request, "signup") is None
    api_door = SignUpThrottle()
    assert api_door.allow_request(request, None)  # type: ignore[arg-type]
    assert throttle.spend_attempt(request, "signup") is not None  # the API spent the second
    cache.clear()


def test_windows_and_counts_are_written_for_people() -> None:
    assert per_window({"requests": 1000, "unit": "second", "unit_multiplier": 1}) == (
        "1,000 calls per second"
    )
    assert per_window({"requests": 5, "unit": "minute", "unit_multiplier": 10}) == (
        "5 calls per 10 minutes"
    )
    assert thousands(2_000_000) == "2,000,000"
    assert thousands(None) == ""


def test_times_are_time_elements_in_utc_and_never_is_a_dash() -> None:
    at = datetime(2030, 7, 1, 9, 5, tzinfo=UTC)
    assert when(at) == '<time datetime="2030-07-01T09:05:00+00:00">2030-07-01 09:05 UTC</time>'
    assert when(None) == "—"

"""The portal's doors spend the developer API's budgets: the same throttles and the same
counters (mgmt.devapi.throttles), so a client cannot switch doors for a fresh budget."""

import math

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import SimpleRateThrottle

from mgmt.devapi.throttles import (
    ApplicationCreationThrottle,
    ApplicationDeletionThrottle,
    KeyCreationThrottle,
    LoginThrottle,
    SignUpThrottle,
)

_BY_SCOPE: dict[str, type[SimpleRateThrottle]] = {
    "signup": SignUpThrottle,
    "login": LoginThrottle,
    "key_creation": KeyCreationThrottle,
    "application_creation": ApplicationCreationThrottle,
    "application_deletion": ApplicationDeletionThrottle,
}


def spend_attempt(request: HttpRequest, scope: str) -> int | None:
    """Counts one attempt; None while the budget lasts, else the seconds until it refills."""
    throttle = _BY_SCOPE[scope]()
    # DRF's throttles read only META, method and user, which a Django request has too.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def too_many_attempts(request: HttpRequest, wait_seconds: int) -> HttpResponse:
    response = render(request, "portal/throttled.html", {"wait_seconds": wait_seconds}, status=429)
    response["Retry-After"] = str(wait_seconds)
    return response

"""Token requests spend two budgets: one per client address (before anything is parsed,
so every failed attempt spends it) and one per client once it has authenticated (a stranger
naming a client id cannot use up that client's tokens; guessing a 256-bit secret is not a
risk a budget needs to slow). DRF's throttle over Django's cache, as every other mgmt
throttle: counts are shared between replicas when TOLLGATE_CACHE_URL points at Redis."""

import hashlib
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle


class _TokenThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        # Read at call time, so a deployment or a test can change it.
        return str(getattr(settings, self.setting))


class AddressThrottle(_TokenThrottle):
    scope = "oauth_token_address"
    setting = "TOLLGATE_OAUTH_THROTTLE_ADDRESS"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ClientThrottle(_TokenThrottle):
    scope = "oauth_token_client"
    setting = "TOLLGATE_OAUTH_THROTTLE_CLIENT"

    def __init__(self, client_id: str) -> None:
        super().__init__()
        # Any text a client sent: hashed into a key every cache backend accepts.
        self.ident = hashlib.sha256(client_id.encode("utf-8", "surrogateescape")).hexdigest()

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def spend(request: HttpRequest, throttle: SimpleRateThrottle) -> int | None:
    """Counts one request; None while the budget lasts, else the seconds until it refills."""
    # DRF's throttles read only META, method and user, which a Django request has too.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return max(1, math.ceil(throttle.wait() or 1))

"""Throttles on the doors an attacker knocks on: sign-up and log-in by client address; key
creation, and application creation and deletion (each a new snapshot), by account. Rates
come from settings (TOLLGATE_THROTTLE_*), read at call time so a deployment or a test can
change them; counts live in Django's cache (shared between processes when
TOLLGATE_CACHE_URL points at Redis)."""

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _ScopedThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return None if rate is None else str(rate)


class SignUpThrottle(_ScopedThrottle):
    scope = "signup"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(_ScopedThrottle):
    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class KeyCreationThrottle(_ScopedThrottle):
    scope = "key_creation"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method != "POST":  # listing keys is not creating them
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _PerAccountThrottle(_ScopedThrottle):
    """Counted per account; views apply it only to the method it counts (get_throttles)."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApplicationCreationThrottle(_PerAccountThrottle):
    scope = "application_creation"


class ApplicationDeletionThrottle(_PerAccountThrottle):
    scope = "application_deletion"

"""Who is calling: a personal access token (`Authorization: Bearer tgp_…`) for scripts, or
the portal's session. A token that is presented but not valid is a 401, never a fallback
to the session, so a script learns at once that its token died."""

from typing import Any

from django.contrib.auth.models import User
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from mgmt.developers import accounts

CHALLENGE = 'Bearer realm="tollgate developer API"'


class AccessTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, None] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("send one token: Authorization: Bearer tgp_…")
        try:
            presented = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("this token is not valid, expired or revoked") from None
        user = accounts.user_for_access_token(presented)
        if user is None:
            raise AuthenticationFailed("this token is not valid, expired or revoked")
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


class PortalSessionAuthentication(SessionAuthentication):
    """The portal's signed-in session, with DRF's CSRF check on every unsafe method."""

    def authenticate_header(self, request: Request) -> Any:
        return None  # the Bearer challenge (listed first) is the one a client can answer

"""The token endpoint's errors (RFC 6749 §5.2). Raised by the request parsing and the
grant, turned into the JSON answer only by the view."""

from typing import Final

INVALID_REQUEST: Final = "invalid_request"
INVALID_CLIENT: Final = "invalid_client"
INVALID_GRANT: Final = "invalid_grant"
UNAUTHORIZED_CLIENT: Final = "unauthorized_client"
UNSUPPORTED_GRANT_TYPE: Final = "unsupported_grant_type"
INVALID_SCOPE: Final = "invalid_scope"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` is the registered code, `description` the human text.
    `basic_challenge`: the client tried HTTP authentication (or none at all), so the answer
    is 401 with a Basic challenge (§5.2, RFC 9110 §15.5.2)."""

    def __init__(self, error: str, description: str, *, basic_challenge: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.basic_challenge = basic_challenge

    @property
    def status(self) -> int:
        return 401 if self.error == INVALID_CLIENT and self.basic_challenge else 400

"""A token request as the endpoint receives it (RFC 6749 §3.2, §4.4.2): the form body
parsed strictly, the client's credentials, the grant type and the scope asked for.

Pure: header values and body bytes in, a TokenRequest or an OAuthError out.
"""

from typing import Final, NamedTuple
from urllib.parse import parse_qsl

from mgmt.oauth.client_auth import PresentedClient, presented_client
from mgmt.oauth.errors import INVALID_REQUEST, UNSUPPORTED_GRANT_TYPE, OAuthError

FORM_TYPE: Final = "application/x-www-form-urlencoded"
CLIENT_CREDENTIALS: Final = "client_credentials"


class TokenRequest(NamedTuple):
    client: PresentedClient
    grant_type: str
    scope: str | None


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """§3.2: form-encoded; a parameter sent without a value counts as omitted, and none may
    be sent twice."""
    if content_type.split(";", maxsplit=1)[0].strip().lower() != FORM_TYPE:
        raise OAuthError(INVALID_REQUEST, f"the body must be {FORM_TYPE}")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict"
        )
    except UnicodeDecodeError:
        raise OAuthError(INVALID_REQUEST, "the body is not UTF-8") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuthError(INVALID_REQUEST, f"the parameter {name!r} is repeated")
        params[name] = value
    return {name: value for name, value in params.items() if value != ""}


def parse_token_request(authorization: str | None, content_type: str, body: bytes) -> TokenRequest:
    params = parse_form(content_type, body)
    client = presented_client(authorization, params)
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise OAuthError(INVALID_REQUEST, "grant_type is missing")
    return TokenRequest(client, grant_type, params.get("scope"))


def check_grant_type(grant_type: str) -> None:
    """Checked once the client is known (§5.2 names the client's own grant as the error)."""
    if grant_type != CLIENT_CREDENTIALS:
        raise OAuthError(
            UNSUPPORTED_GRANT_TYPE, f"only {CLIENT_CREDENTIALS} is supported, not {grant_type!r}"
        )

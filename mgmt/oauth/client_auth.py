"""Which client a token request says it is (RFC 6749 §2.3.1): HTTP Basic
(`client_secret_basic`) or the body (`client_secret_post`), never both.

Pure: the Authorization header and the form parameters in, the presented credentials out.
Whether they are right is the service's business.
"""

import base64
import binascii
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote_plus

from mgmt.oauth.errors import INVALID_CLIENT, INVALID_REQUEST, OAuthError

BASIC = "client_secret_basic"
POST = "client_secret_post"


class PresentedClient(NamedTuple):
    client_id: str
    client_secret: str
    method: str  # BASIC or POST


def _basic(header: str) -> PresentedClient:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(
            INVALID_CLIENT, "authenticate with HTTP Basic or in the body", basic_challenge=True
        )
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(
            INVALID_CLIENT, "the Basic credentials are not base64 of UTF-8", basic_challenge=True
        ) from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise OAuthError(INVALID_CLIENT, "the Basic credentials lack a ':'", basic_challenge=True)
    # §2.3.1: id and secret are form-urlencoded before Basic encodes them.
    return PresentedClient(unquote_plus(raw_id), unquote_plus(raw_secret), BASIC)


def presented_client(authorization: str | None, params: Mapping[str, str]) -> PresentedClient:
    """The credentials of the request. Raises OAuthError: invalid_request for both methods
    at once, invalid_client (with a Basic challenge) for none or a malformed header."""
    body_id = params.get("client_id")
    body_secret = params.get("client_secret")
    if authorization:
        client = _basic(authorization)
        if body_secret is not None:
            raise OAuthError(
                INVALID_REQUEST,
                "authenticate with HTTP Basic or with client_secret in the body, not both",
            )
        if body_id is not None and body_id != client.client_id:
            raise OAuthError(INVALID_REQUEST, "client_id in the body differs from Basic's")
        return client
    if body_id is None and body_secret is None:
        raise OAuthError(INVALID_CLIENT, "no client authentication", basic_challenge=True)
    if body_id is None or body_secret is None:
        raise OAuthError(INVALID_REQUEST, "client_secret_post needs client_id and client_secret")
    return PresentedClient(body_id, body_secret, POST)

"""Secrets the portal hands out: personal access tokens for scripts and invitation tokens.

Both are random and stored only as SHA-256, so a database leak reveals none of them; a
presented one is hashed and compared in constant time.
"""

import base64
import hashlib
import hmac
import secrets
from typing import Final, NamedTuple

TOKEN_PREFIX: Final = "tgp_"  # noqa: S105 - a visible prefix, not a secret
TOKEN_ID_LENGTH: Final = 12
# "tgp_" + id + "_" + 43 characters of url-safe base64 (256 bits).
TOKEN_LENGTH: Final = len(TOKEN_PREFIX) + TOKEN_ID_LENGTH + 1 + 43


class IssuedToken(NamedTuple):
    token_id: str
    secret: str
    token_hash: bytes


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


def issue_access_token() -> IssuedToken:
    token_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:TOKEN_ID_LENGTH]
    body = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    secret = f"{TOKEN_PREFIX}{token_id}_{body}"
    return IssuedToken(token_id, secret, digest(secret))


def access_token_id(presented: str) -> str | None:
    """The token id of a well-formed access token, or None (checked before any look-up)."""
    if (
        len(presented) != TOKEN_LENGTH
        or not presented.startswith(TOKEN_PREFIX)
        or presented[len(TOKEN_PREFIX) + TOKEN_ID_LENGTH] != "_"
    ):
        return None
    return presented[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + TOKEN_ID_LENGTH]


def matches(presented: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(digest(presented), bytes(stored_hash))


def issue_invitation_token() -> tuple[str, bytes]:
    """(the token for the mailed link, its hash for the row)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)

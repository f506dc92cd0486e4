"""The format of OAuth client ids and client secrets.

A client id reads `tgc_` + 20 base32 characters: public, unique, what a partner's
configuration names. A secret reads `tgcs_<secret_id>_<43 characters>`: 256 random bits,
of which only the SHA-256 of the whole secret is stored (a fast hash is enough for a
random secret, as for API keys in extauthz.keys); the secret id is the visible prefix that
finds the row and tells a partner's secrets apart.
"""

import base64
import hashlib
import hmac
import secrets
from typing import Final, NamedTuple

CLIENT_ID_PREFIX: Final = "tgc_"
CLIENT_ID_LENGTH: Final = len(CLIENT_ID_PREFIX) + 20
SECRET_PREFIX: Final = "tgcs_"  # noqa: S105 (a format, not a secret)
SECRET_ID_LENGTH: Final = 12
_SECRET_BYTES: Final = 32
SECRET_LENGTH: Final = len(SECRET_PREFIX) + SECRET_ID_LENGTH + 1 + 43


class IssuedSecret(NamedTuple):
    """A fresh secret: `secret` is shown once and never stored."""

    secret_id: str
    secret: str
    secret_hash: bytes


def _base32(length: int) -> str:
    return base64.b32encode(secrets.token_bytes(length)).decode().lower()


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + _base32(13)[:20]


def issue_secret() -> IssuedSecret:
    secret_id = _base32(10)[:SECRET_ID_LENGTH]
    body = base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")
    secret = f"{SECRET_PREFIX}{secret_id}_{body}"
    return IssuedSecret(secret_id, secret, hash_secret(secret))


def hash_secret(presented: str) -> bytes:
    return hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()


def secret_id_of(presented: str) -> str | None:
    """The secret id of a well-formed secret, or None: a shape check before any look-up."""
    if (
        len(presented) != SECRET_LENGTH
        or not presented.startswith(SECRET_PREFIX)
        or presented[len(SECRET_PREFIX) + SECRET_ID_LENGTH] != "_"
    ):
        return None
    return presented[len(SECRET_PREFIX) : len(SECRET_PREFIX) + SECRET_ID_LENGTH]


def secret_matches(presented: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(presented), stored_hash)

"""The API key format, shared by mgmt (which issues keys) and ext_authz (which checks them).

A key reads `tg_<key_id>_<secret>`: the key id is visible, unique and the look-up
key; only SHA-256 of the whole key is stored. Keys carry 256 bits of randomness,
so a fast hash is enough (no password KDF is needed for a random secret).
"""

import base64
import hashlib
import secrets
import zlib
from typing import Final, NamedTuple

PREFIX: Final = "tg_"
KEY_ID_LENGTH: Final = 12
_SECRET_BYTES: Final = 32
# "tg_" + key id + "_" + 43 characters of url-safe base64.
KEY_LENGTH: Final = len(PREFIX) + KEY_ID_LENGTH + 1 + 43


class IssuedKey(NamedTuple):
    """A freshly issued key: `secret` is shown once and never stored."""

    key_id: str
    secret: str
    key_hash: bytes


def issue_key() -> IssuedKey:
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:KEY_ID_LENGTH]
    body = base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")
    secret = f"{PREFIX}{key_id}_{body}"
    return IssuedKey(key_id, secret, hash_key(secret))


def hash_key(presented: str) -> bytes:
    return hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()


def shard_of(key_id: str, shard_count: int) -> int:
    """The credential shard a key id lives in: mgmt places it there, ext_authz looks there."""
    # surrogateescape: a look-up id from the HTTP transport may hold bytes that were not UTF-8.
    return zlib.crc32(key_id.encode("utf-8", "surrogateescape")) % shard_count


def key_id_of(presented: str) -> str | None:
    """The key id of a well-formed key, or None: a cheap shape check before any hashing."""
    if (
        len(presented) != KEY_LENGTH
        or not presented.startswith(PREFIX)
        or presented[len(PREFIX) + KEY_ID_LENGTH] != "_"
    ):
        return None
    return presented[len(PREFIX) : len(PREFIX) + KEY_ID_LENGTH]

"""Private keys sealed from the upload to the last hop: mgmt seals, xds_server opens.

A TLS private key is sealed (AES-256-GCM) the moment mgmt has checked it, and stays sealed
in the database, in every snapshot of the history and in xds_server's own state file. Only
xds_server, when it loads a snapshot, opens it, and only an authenticated Envoy is sent the
clear key (over ADS). The sealed bytes are bound to the name of what they belong to (the
AEAD's associated data), so a sealed key copied under another certificate's name does not
open.

Pure but for `read_sealing_key`, which reads the key file both processes are given.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC: Final = b"TGSEAL1:"
KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12


class SealingError(ValueError):
    """A sealing key that is not one, or sealed bytes that do not open (wrong key, name or
    tampered)."""


def new_key_text() -> str:
    """A fresh sealing key as it is kept in a key file: 32 random bytes, base64."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SealingError("the sealing key is not base64") from None
    if len(key) != KEY_BYTES:
        raise SealingError(f"the sealing key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def read_sealing_key(path: Path | None) -> bytes | None:
    """The key in `path` (TOLLGATE_SECRETS_KEY_FILE); None when no file is configured."""
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError as exc:
        raise SealingError(f"cannot read the sealing key file {path}: {exc}") from None
    return parse_key(text)


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def seal(key: bytes, name: str, clear: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, clear, name.encode())


def open_sealed(key: bytes, name: str, sealed: bytes) -> bytes:
    if not is_sealed(sealed):
        raise SealingError(f"{name}: not sealed bytes")
    body = sealed[len(MAGIC) :]
    nonce, ciphertext = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, name.encode())
    except (InvalidTag, ValueError):
        raise SealingError(
            f"{name}: the sealed key does not open with this sealing key "
            "(another key, another name, or altered)"
        ) from None

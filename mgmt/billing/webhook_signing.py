"""Signing billing webhooks the Standard Webhooks way (https://www.standardwebhooks.com/):
HMAC-SHA256 over `{id}.{timestamp}.{body}`, sent in `webhook-*` headers. Pure: the clock and
the secrets are passed in.

A secret is shown to its owner as `whsec_<base64>`; only the decoded bytes are the HMAC key.
During a rotation the sender signs with the new and the old secret and sends both signatures,
space-separated, so a receiver that knows either one keeps verifying.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets as random_secrets
from collections.abc import Mapping, Sequence
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a visible prefix, not a secret
SIGNATURE_VERSION: Final = "v1"
# The spec asks for at least 24 random bytes and at most 512 bits; we mint 32.
NEW_SECRET_BYTES: Final = 32
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
DEFAULT_TOLERANCE_S: Final = 300

ID_HEADER: Final = "webhook-id"
TIMESTAMP_HEADER: Final = "webhook-timestamp"
SIGNATURE_HEADER: Final = "webhook-signature"

# A `.` in the id would let one (id, timestamp) pair be read as another; the spec forbids it.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_\-]{1,255}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    key = random_secrets.token_bytes(NEW_SECRET_BYTES)
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """The HMAC key inside `whsec_<base64>`; ValueError for anything else."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("a webhook secret is whsec_ followed by standard base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}"
        )
    return key


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise ValueError("a webhook id is 1 to 255 of A-Z a-z 0-9 _ -")
    if timestamp < 0:
        raise ValueError("a webhook timestamp is Unix seconds, not negative")
    return f"{msg_id}.{timestamp}.".encode("ascii") + body


def _digest(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{msg_id}.{timestamp}.{body}` under `secret`."""
    mac = _digest(secret_bytes(secret), _signed_content(msg_id, timestamp, body))
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"


def headers(
    secret: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    previous_secrets: Sequence[str] = (),
) -> dict[str, str]:
    """The request headers of one attempt. `previous_secrets` are still signed with during
    a rotation, after the current one. The timestamp is the attempt's, not the event's: a
    retry is signed afresh so that receivers can refuse replays."""
    signatures = [sign(each, msg_id, timestamp, body) for each in (secret, *previous_secrets)]
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(signatures),
        "content-type": "application/json",
    }


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when the timestamp is within `tolerance_s` of `now` (either way) and one of the
    `v1` signatures in the header was made by one of `secrets` over exactly these bytes.
    Header names are matched case-insensitively; a malformed header is simply False. A
    malformed secret is our own configuration error and raises ValueError."""
    keys = [secret_bytes(each) for each in secrets]
    by_name = {name.lower(): value for name, value in headers.items()}
    msg_id = by_name.get(ID_HEADER, "")
    timestamp_text = by_name.get(TIMESTAMP_HEADER, "").strip()
    if not _MESSAGE_ID.fullmatch(msg_id) or not _TIMESTAMP.fullmatch(timestamp_text):
        return False
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > tolerance_s:
        return False
    content = _signed_content(msg_id, timestamp, body)
    expected = [base64.b64encode(_digest(key, content)) for key in keys]
    offered = [
        candidate.encode("utf-8", "replace")
        for version, _, candidate in (
            token.partition(",") for token in by_name.get(SIGNATURE_HEADER, "").split()
        )
        if version == SIGNATURE_VERSION
    ]
    # Every pair is compared, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(mine, theirs) for mine in expected for theirs in offered]
    return any(matches)

"""Names of the fold's claims on Redis hashes, and which minutes are closed: pure.

A closed hash is claimed by renaming it to a folding key that names its kind, its minute
and a fresh token; the token-bearing name is also the FoldBatch id that makes applying it
happen once.
"""

from __future__ import annotations

import uuid
from typing import Final, NamedTuple

from accesslog import usage_keys

FOLDING_PREFIX: Final = "tollgate:usage:folding:"
# SET of folding keys claimed and not yet finished: what a killed worker left behind.
CLAIMED_KEY: Final = "tollgate:usage:claimed"
USAGE: Final = "m"
COVER: Final = "cover"
LAST_USED: Final = "keys"
KINDS: Final = (USAGE, COVER, LAST_USED)
_TOKEN_LENGTH: Final = 32  # uuid4().hex


class Claim(NamedTuple):
    kind: str  # USAGE, COVER or LAST_USED
    minute: int  # 0 for LAST_USED (the keys hash spans minutes)
    token: str

    @property
    def key(self) -> str:
        """The folding key the claimed hash was renamed to."""
        return f"{FOLDING_PREFIX}{self.batch_id}"

    @property
    def batch_id(self) -> str:
        """FoldBatch.batch_id: at most 5 + 1 + 19 + 1 + 32 = 58 characters."""
        return f"{self.kind}:{self.minute}:{self.token}"

    @property
    def source(self) -> str:
        """The hash the collector writes, that this claim took."""
        if self.kind == USAGE:
            return usage_keys.minute_key(self.minute)
        if self.kind == COVER:
            return usage_keys.cover_key(self.minute)
        return usage_keys.LAST_USED_KEY


def new_claim(kind: str, minute: int = 0) -> Claim:
    return Claim(kind, minute, uuid.uuid4().hex)


def parse_claim(key: str) -> Claim | None:
    """The claim of a folding key `Claim.key` made; None for anything else."""
    if not key.startswith(FOLDING_PREFIX):
        return None
    parts = key[len(FOLDING_PREFIX) :].split(":")
    if len(parts) != 3:
        return None
    kind, minute_text, token = parts
    minute = usage_keys.minute_of_key(minute_text, prefix="")
    if kind not in KINDS or minute is None or not _is_token(token):
        return None
    if (kind == LAST_USED) != (minute == 0):
        return None
    return Claim(kind, minute, token)


def closed_minutes(now: float, *, settle_seconds: int) -> range:
    """The minutes whose hashes may be folded at `now`: those that ended `settle_seconds`
    ago or earlier, back to the oldest a hash can still exist for (its TTL).

    The settle delay lets the collector's last flushes of a minute land first; entries
    that still arrive later (a long request is logged when it ends) make a new hash for
    that minute, folded as another batch: late data adds, it never replaces.
    """
    last = int(now - settle_seconds) // 60 - 1
    first = int(now) // 60 - usage_keys.KEY_TTL_SECONDS // 60
    return range(max(first, 0), last + 1)


def _is_token(text: str) -> bool:
    return len(text) == _TOKEN_LENGTH and all(c in "0123456789abcdef" for c in text)

"""The fold's Redis side: find closed hashes, claim them atomically, read and release them.

A thin adapter over redis-py: what to claim and how to read a claimed hash is decided in
claims.py and fold_rows.py. The analytics Redis must be a single instance (or the usage
keys in one cluster slot): a claim renames a key, which Redis Cluster refuses across slots.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

import redis

from accesslog import usage_keys
from mgmt.analytics.claims import CLAIMED_KEY, COVER, USAGE, Claim, parse_claim

CLAIM_SCRIPT: Final = resources.files("mgmt.analytics").joinpath("claim.lua").read_text()
_EXISTS_CHUNK: Final = 1000


def connect(url: str) -> redis.Redis:
    """A client that fails fast: the task retries later rather than hanging on a socket."""
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=3)


class UsageRedis:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._claim = client.register_script(CLAIM_SCRIPT)

    def closed(self, minutes: range) -> list[tuple[str, int]]:
        """(kind, minute) of each usage and cover hash that exists for `minutes`, oldest first.

        Asks EXISTS of each candidate name (a few pipelined round trips) rather than SCANning
        a Redis the rate-limit counters share, whose key count has no bound.
        """
        candidates = [(kind, m) for m in minutes for kind in (USAGE, COVER)]
        found: list[tuple[str, int]] = []
        for start in range(0, len(candidates), _EXISTS_CHUNK):
            chunk = candidates[start : start + _EXISTS_CHUNK]
            pipe = self._client.pipeline(transaction=False)
            for kind, minute in chunk:
                name = (
                    usage_keys.minute_key(minute) if kind == USAGE else usage_keys.cover_key(minute)
                )
                pipe.exists(name)
            found.extend(c for c, exists in zip(chunk, pipe.execute(), strict=True) if exists)
        return found

    def claim(self, claim: Claim) -> bool:
        """Renames `claim.source` to `claim.key` and records it; False if it was gone."""
        return bool(self._claim(keys=[claim.source, claim.key, CLAIMED_KEY]))

    def claimed(self) -> list[Claim]:
        """Folding keys claimed and not finished: by a killed worker, or one still at work.

        A member no claim could have made is dropped from the set.
        """
        claims: list[Claim] = []
        for member in self._client.smembers(CLAIMED_KEY):
            claim = parse_claim(_bytes(member).decode("utf-8", "replace"))
            if claim is None:
                self._client.srem(CLAIMED_KEY, member)
            else:
                claims.append(claim)
        return sorted(claims, key=lambda c: (c.minute, c.kind, c.token))

    def read(self, claim: Claim) -> dict[bytes, bytes]:
        """The claimed hash; empty when it is gone (finished meanwhile, or expired)."""
        raw = self._client.hgetall(claim.key)
        return {_bytes(name): _bytes(value) for name, value in raw.items()}

    def finish(self, claim: Claim) -> None:
        """Drops the folding key once its counts are committed to the database."""
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(claim.key)
        pipe.srem(CLAIMED_KEY, claim.key)
        pipe.execute()


def _bytes(value: bytes | str) -> bytes:
    # The client is made without decode_responses: a str here would be a caller's client.
    return value if isinstance(value, bytes) else value.encode()

"""The counters in Redis for an asyncio sidecar: check.lua (with the previous lease's
leftovers given back in the same round trip) and release.lua, behind a breaker.

Slow is not down. A refused connection opens the breaker at once; timeouts open it only
after `failures_to_open` in a row, so a busy machine (a late answer now and then) keeps
counting in Redis. While open, calls fail at once (`StoreUnavailable`) and a probe pings
every `probe_interval` seconds; the first answer closes the breaker.
"""

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ratelimit_svc.leases import Release
from ratelimit_svc.redis_store import RELEASE_SCRIPT, SCRIPT, ScriptResult, StoreUnavailable

log = logging.getLogger(__name__)

_UNREACHABLE = (redis.exceptions.ConnectionError, OSError)

# Units counted late into one bucket; the key's life is lengthened, never shortened (PEXPIRE
# GT/NX would say it, but the embedded Redis is 6.2).
_ADD_SCRIPT = """
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""


class AsyncCounterStore:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.1,
        failures_to_open: int = 3,
        probe_interval: float = 0.25,
        max_connections: int = 32,
    ) -> None:
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=max_connections,
        )
        self._check = self._client.register_script(SCRIPT)
        self._release = self._client.register_script(RELEASE_SCRIPT)
        self._add = self._client.register_script(_ADD_SCRIPT)
        self._failures_to_open = failures_to_open
        self._probe_interval = probe_interval
        self._failures = 0
        self._probe: asyncio.Task[None] | None = None
        self.healthy = True
        # How many times the breaker opened, and since when (wall clock) it is open now:
        # the sidecar's metrics, logs and reports read them.
        self.outages = 0
        self.down_since: float | None = None

    async def check(
        self, keys: list[str], args: list[str], release: Release | None = None
    ) -> ScriptResult:
        """One check.lua call; `release` (a lease's leftovers) goes first, in the same trip."""
        if not self.healthy:
            raise StoreUnavailable("Redis is unreachable")
        try:
            if release is None:
                values = await self._check(keys=keys, args=args)
            else:
                pipe = self._client.pipeline(transaction=False)
                await self._release(
                    keys=list(release.keys), args=_release_args(release), client=pipe
                )
                await self._check(keys=keys, args=args, client=pipe)
                replies = await pipe.execute()
                values = replies[-1]
        except redis.exceptions.TimeoutError as error:
            self._failed(error, at_once=False)
            raise StoreUnavailable(f"Redis did not answer in time: {error}") from None
        except _UNREACHABLE as error:
            self._failed(error, at_once=True)
            raise StoreUnavailable(f"Redis is unreachable: {error}") from None
        except redis.exceptions.ResponseError as error:
            # Redis answered but refused (OOM, a cluster CROSSSLOT, a script error).
            raise StoreUnavailable(f"Redis refused the check: {error}") from None
        self._failures = 0
        return ScriptResult(values)

    async def release(self, releases: list[Release]) -> None:
        """Give back leases' leftovers; lost if Redis is unreachable (they expire with their
        window, so the only cost is under-admission, never over-admission)."""
        if not releases or not self.healthy:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for release in releases:
                await self._release(
                    keys=list(release.keys), args=_release_args(release), client=pipe
                )
            await pipe.execute()
        except (redis.exceptions.RedisError, OSError) as error:
            log.warning("could not give back %d leases: %s", len(releases), type(error).__name__)

    async def add_units(self, owed: dict[tuple[str, str], tuple[int, int]]) -> bool:
        """Add units admitted while Redis was unreachable to their quota (or billing meter)
        buckets: {(key, bucket): (units, ttl ms)}. True when Redis took them all."""
        if not owed or not self.healthy:
            return False
        try:
            pipe = self._client.pipeline(transaction=False)
            for (key, bucket), (units, ttl_ms) in owed.items():
                await self._add(keys=[key], args=[bucket, units, ttl_ms], client=pipe)
            await pipe.execute()
        except (redis.exceptions.RedisError, OSError) as error:
            log.warning("could not count %d local admits yet: %s", len(owed), type(error).__name__)
            return False
        return True

    async def publish(self, stream: str, fields: dict[str, str], max_length: int) -> None:
        """Append one event to a Redis stream, capped near `max_length` entries."""
        try:
            await self._client.xadd(stream, fields, maxlen=max_length, approximate=True)  # type: ignore[arg-type]
        except (redis.exceptions.RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from None

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self._client.aclose()

    def _failed(self, error: BaseException, *, at_once: bool) -> None:
        self._failures += 1
        if not self.healthy or (not at_once and self._failures < self._failures_to_open):
            return
        self.healthy = False
        self.outages += 1
        self.down_since = time.time()
        log.warning(
            "Redis unreachable (%s): fail-open routes count locally, fail-closed routes refuse",
            type(error).__name__,
        )
        self._probe = asyncio.get_running_loop().create_task(self._probing())

    async def _probing(self) -> None:
        down_since = time.monotonic()
        while True:
            await asyncio.sleep(self._probe_interval)
            try:
                if await self._client.ping():
                    break
            except (redis.exceptions.RedisError, OSError):
                continue
        self._failures = 0
        self.healthy = True
        self.down_since = None
        log.info("Redis reachable again after %.1f s", time.monotonic() - down_since)


def _release_args(release: Release) -> list[Any]:
    return [str(release.units), str(int(time.time() * 1000)), *release.args]

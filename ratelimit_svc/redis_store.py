"""The counters in Redis: one script call per check, and a breaker for when Redis is down.

While Redis is unreachable a check fails at once (`StoreUnavailable`, no waiting on a
socket), and a probe thread pings Redis every `probe_interval` seconds; the first
answered ping closes the breaker, so enforcement resumes within that interval of Redis
coming back. The script is loaded again by redis-py after a Redis restart (NOSCRIPT).
"""

import logging
import threading
import time
from importlib import resources
from typing import Final

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

SCRIPT: Final = resources.files("ratelimit_svc").joinpath("check.lua").read_text()
RELEASE_SCRIPT: Final = resources.files("ratelimit_svc").joinpath("release.lua").read_text()
NOT_OVER: Final = -2
NEVER: Final = -1
_PER_COUNTER: Final = 6


class StoreUnavailable(Exception):
    """The counters cannot be read now; the caller applies the route's failure mode."""


class ScriptResult:
    """check.lua's answer: whether the hits were admitted, the extra units granted (a
    lease), and per counter what it saw (the script documents each value)."""

    __slots__ = ("admitted", "granted", "values")

    def __init__(self, values: list[int]) -> None:
        self.admitted = values[0] == 1
        self.granted = values[1]
        self.values = values

    def used(self, i: int) -> int:
        return self.values[2 + _PER_COUNTER * i]

    def first(self, i: int) -> int:
        return self.values[3 + _PER_COUNTER * i]

    def fit(self, i: int) -> int:
        return self.values[4 + _PER_COUNTER * i]

    def free(self, i: int) -> int:
        return self.values[5 + _PER_COUNTER * i]

    def wait(self, i: int) -> int:
        return self.values[6 + _PER_COUNTER * i]

    def debt(self, i: int) -> int:
        return self.values[7 + _PER_COUNTER * i]


class RedisCounterStore:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.025,
        max_connections: int = 64,
        probe_interval: float = 0.25,
    ) -> None:
        # No retries and short timeouts: a dead or stalled Redis costs a check at most
        # `timeout` once, then the breaker answers at once until the probe succeeds.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=max_connections,
        )
        self._script = self._client.register_script(SCRIPT)
        self._probe_interval = probe_interval
        self._healthy = True
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._prober: threading.Thread | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    def check(self, keys: list[str], args: list[str]) -> ScriptResult:
        if not self._healthy:
            raise StoreUnavailable("Redis is unreachable")
        try:
            values = self._script(keys=keys, args=args)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._trip(error)
            raise StoreUnavailable(f"Redis is unreachable: {error}") from None
        except redis.ResponseError as error:
            # Redis answered but refused (OOM, a cluster CROSSSLOT, a script error).
            raise StoreUnavailable(f"Redis refused the check: {error}") from None
        return ScriptResult(values)

    def publish(self, stream: str, fields: dict[str, str], max_length: int) -> None:
        """Append one event to a Redis stream, capped near `max_length` entries."""
        try:
            self._client.xadd(stream, fields, maxlen=max_length, approximate=True)  # type: ignore[arg-type]
        except redis.RedisError as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from None

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._stopping.set()
        prober = self._prober
        if prober is not None:
            prober.join(2 * self._probe_interval + 1)
        self._client.close()

    def _trip(self, error: Exception) -> None:
        with self._lock:
            if not self._healthy:
                return
            self._healthy = False
            log.warning("Redis unreachable (%s): applying each route's failure mode", error)
            self._prober = threading.Thread(target=self._probe, name="redis-probe", daemon=True)
            self._prober.start()

    def _probe(self) -> None:
        down_since = time.monotonic()
        while not self._stopping.wait(self._probe_interval):
            if self.ping():
                with self._lock:
                    self._healthy = True
                log.info("Redis reachable again after %.1f s", time.monotonic() - down_since)
                return

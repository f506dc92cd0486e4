"""Who was throttled: over-limit events, aggregated in memory and appended to a Redis stream.

A flood of refusals must not become a flood of writes: events are summed per
(application, subscription, limit) and flushed once per `interval` as one stream entry
each, so management can show who was throttled, how often and when. Nothing secret is
recorded: ids and limit names only.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

STREAM: Final = "tollgate:throttle-events"
STREAM_MAX_LENGTH: Final = 100_000
# Pending aggregates kept while Redis is down; beyond this, the oldest are dropped.
MAX_PENDING: Final = 10_000


@dataclass(slots=True)
class Throttle:
    count: int
    first_ms: int
    last_ms: int


ThrottleKey = tuple[str, str, str, str, bool]  # application, subscription, identity, limit, quota


class ThrottleRecorder:
    def __init__(
        self,
        publish: Callable[[str, dict[str, str], int], None],
        *,
        interval: float = 1.0,
    ) -> None:
        self._publish = publish
        self._interval = interval
        self._pending: dict[ThrottleKey, Throttle] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="throttle-events", daemon=True)

    def record(self, key: ThrottleKey, now_ms: int) -> None:
        with self._lock:
            throttle = self._pending.get(key)
            if throttle is None:
                if len(self._pending) >= MAX_PENDING:
                    self._pending.pop(next(iter(self._pending)))
                self._pending[key] = Throttle(1, now_ms, now_ms)
            else:
                throttle.count += 1
                throttle.last_ms = now_ms

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(self._interval + 2)
        self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for n, (key, throttle) in enumerate(pending.items()):
            application, subscription, identity, limit, quota = key
            fields = {
                "application_id": application,
                "subscription_id": subscription,
                "identity": identity,
                "limit": limit,
                "kind": "quota" if quota else "rate",
                "count": str(throttle.count),
                "first_ms": str(throttle.first_ms),
                "last_ms": str(throttle.last_ms),
            }
            try:
                self._publish(STREAM, fields, STREAM_MAX_LENGTH)
            except Exception as error:
                log.warning("throttle events kept for the next flush: %s", error)
                self._requeue(list(pending.items())[n:])
                return

    def _requeue(self, items: list[tuple[ThrottleKey, Throttle]]) -> None:
        with self._lock:
            for key, throttle in items:
                current = self._pending.get(key)
                if current is None:
                    if len(self._pending) < MAX_PENDING:
                        self._pending[key] = throttle
                else:
                    current.count += throttle.count
                    current.first_ms = min(current.first_ms, throttle.first_ms)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.flush()

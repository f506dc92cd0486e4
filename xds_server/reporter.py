"""Sends ACK/NACK events to mgmt (POST /internal/xds/events), batched, kept while mgmt is down.

`submit` only appends to a bounded buffer, so ADS streams never wait on mgmt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections import deque
from dataclasses import asdict

from xds_server.cache import XdsEvent
from xds_server.errors import EventsRefused, SourceUnavailable

EVENTS_PATH = "/internal/xds/events"

log = logging.getLogger(__name__)


def post(url: str, token: str, body: bytes, timeout: float) -> None:
    """One blocking POST of JSON to mgmt's internal API (run it in a thread)."""
    request = urllib.request.Request(  # noqa: S310 (http(s) checked by EventReporter)
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            status = resp.status
    except urllib.error.HTTPError as exc:
        if exc.code in _NEVER_ACCEPTED:
            raise EventsRefused(f"mgmt refused a batch of events: HTTP {exc.code}") from exc
        raise SourceUnavailable(f"mgmt answered HTTP {exc.code} to {url}") from exc
    except (OSError, TimeoutError) as exc:
        raise SourceUnavailable(f"mgmt unreachable: {exc}") from exc
    if status not in (200, 202, 204):
        raise SourceUnavailable(f"mgmt answered HTTP {status} to {url}")


# Answers that sending the same batch again cannot change (401/403 can: a token fix).
_NEVER_ACCEPTED = frozenset({400, 404, 405, 413, 415, 422})


class EventReporter:
    """Buffers events and flushes them to mgmt every `flush_interval` seconds."""

    def __init__(
        self,
        *,
        mgmt_url: str,
        token: str,
        flush_interval: float = 0.25,
        max_buffer: int = 10_000,
        batch_size: int = 500,
        timeout: float = 5.0,
    ) -> None:
        if not mgmt_url.startswith(("http://", "https://")):
            raise ValueError(f"mgmt URL must be http(s): {mgmt_url!r}")
        self._url = mgmt_url.rstrip("/") + EVENTS_PATH
        self._token = token
        self._interval = flush_interval
        self._max = max_buffer
        self._batch = batch_size
        self._timeout = timeout
        self._buffer: deque[XdsEvent] = deque()
        self._dropped = 0
        self._outage: str | None = None

    def submit(self, event: XdsEvent) -> None:
        """Queue one event; when the buffer is full the oldest is dropped. Never blocks."""
        if len(self._buffer) >= self._max:
            self._buffer.popleft()
            if self._dropped == 0:
                log.warning("event buffer full (%d); dropping the oldest events", self._max)
            self._dropped += 1
        self._buffer.append(event)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> bool:
        """Send everything buffered, in batches; False (events kept) if mgmt is not taking them."""
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
            body = json.dumps({"events": [asdict(e) for e in batch]}).encode()
            try:
                await asyncio.to_thread(post, self._url, self._token, body, self._timeout)
            except EventsRefused as exc:
                # Resending would loop forever and hold back every event behind it.
                log.error("%s; dropping those %d events", exc, len(batch))
                continue
            except SourceUnavailable as exc:
                self._requeue(batch)
                if self._outage is None:
                    log.warning("%s; keeping %d events to send later", exc, len(self._buffer))
                self._outage = str(exc)
                return False
            if self._outage is not None:
                log.info("mgmt takes events again")
                self._outage = None
            if self._dropped:
                log.warning("%d events were dropped while mgmt was away", self._dropped)
                self._dropped = 0
        return True

    async def run(self) -> None:
        """Flush every `flush_interval` until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.exception("sending events failed; will try again")

    def _requeue(self, batch: list[XdsEvent]) -> None:
        # Events submitted during the failed POST are newer: put the batch back before them.
        self._buffer.extendleft(reversed(batch))
        while len(self._buffer) > self._max:
            self._buffer.popleft()
            self._dropped += 1

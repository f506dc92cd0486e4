"""Who is being throttled right now: the last minute of the sidecars' throttle-event stream,
summed per application.

The sidecars (ratelimit_svc/throttle_events.py) append one entry per (application,
subscription, limit) per second while a caller is refused, so an application shows here
about a second after its first 429 and leaves a minute after its last. The aggregation is
pure; `read_recent` is the one Redis round trip (TIME and XREVRANGE in a pipeline), so the
window is measured on Redis's clock, the one that stamped the entry ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import redis

from ratelimit_svc.throttle_events import STREAM

WINDOW_MS: Final = 60_000
# A dashboard poll must not hang on a slow Redis: it says "unavailable" and polls again.
TIMEOUT_SECONDS: Final = 0.5
# At most this many entries are read per poll: one per throttled (application, limit) per
# second, so it covers a minute of about 80 at once; beyond that the counts are a floor.
MAX_ENTRIES: Final = 5_000


@dataclass(frozen=True, slots=True)
class ThrottleEvent:
    """One stream entry: `count` refusals of one subscription's `limit` in about a second."""

    at_ms: int  # the entry id's time (Redis's clock)
    application_id: int
    subscription_id: int
    limit: str
    kind: str
    count: int
    last_ms: int


@dataclass(frozen=True, slots=True)
class LimitHit:
    limit: str
    kind: str
    count: int


@dataclass(frozen=True, slots=True)
class Throttled:
    """One application's refusals in the window, its busiest limit first."""

    application_id: int
    count: int
    last_at_ms: int
    subscription_ids: tuple[int, ...]
    limits: tuple[LimitHit, ...]


@dataclass(frozen=True, slots=True)
class Recent:
    """The entries of the window, newest first, and whether MAX_ENTRIES cut them short."""

    now_ms: int
    events: Sequence[ThrottleEvent] = field(default_factory=tuple)
    truncated: bool = False


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_entry(entry_id: Any, fields: Mapping[Any, Any]) -> ThrottleEvent | None:
    """A stream entry as an event; None for anything malformed (never trusted to be well
    formed: the stream is only as tidy as every sidecar version that wrote to it)."""
    values = {_text(k): _text(v) for k, v in fields.items()}
    try:
        at_ms = int(_text(entry_id).split("-", 1)[0])
        application_id = int(values["application_id"])
        subscription_id = int(values.get("subscription_id") or 0)
        count = int(values.get("count") or 1)
        last_ms = int(values.get("last_ms") or at_ms)
    except (KeyError, ValueError):
        return None
    if application_id <= 0 or count <= 0:
        return None  # not an application's refusal (YAML-mode identities have no id)
    return ThrottleEvent(
        at_ms=at_ms,
        application_id=application_id,
        subscription_id=subscription_id,
        limit=values.get("limit", "")[:200],
        kind=values.get("kind", "rate")[:20],
        count=count,
        last_ms=last_ms,
    )


def aggregate(
    events: Iterable[ThrottleEvent], *, now_ms: int, window_ms: int = WINDOW_MS
) -> list[Throttled]:
    """Per application: refusals within `window_ms` before `now_ms`, busiest first."""
    since = now_ms - window_ms
    totals: dict[int, int] = {}
    last: dict[int, int] = {}
    subscriptions: dict[int, set[int]] = {}
    limits: dict[int, dict[tuple[str, str], int]] = {}
    for event in events:
        if event.at_ms < since:
            continue
        app = event.application_id
        totals[app] = totals.get(app, 0) + event.count
        last[app] = max(last.get(app, 0), event.at_ms)
        if event.subscription_id:
            subscriptions.setdefault(app, set()).add(event.subscription_id)
        hits = limits.setdefault(app, {})
        key = (event.limit, event.kind)
        hits[key] = hits.get(key, 0) + event.count
    rows = [
        Throttled(
            application_id=app,
            count=count,
            last_at_ms=last[app],
            subscription_ids=tuple(sorted(subscriptions.get(app, ()))),
            limits=tuple(
                LimitHit(limit, kind, hits)
                for (limit, kind), hits in sorted(
                    limits[app].items(), key=lambda item: (-item[1], item[0])
                )
            ),
        )
        for app, count in totals.items()
    ]
    rows.sort(key=lambda row: (-row.count, -row.last_at_ms, row.application_id))
    return rows


def read_recent(client: Any, *, window_ms: int = WINDOW_MS, limit: int = MAX_ENTRIES) -> Recent:
    """The window's entries from Redis, newest first: one pipelined round trip."""
    pipe = client.pipeline(transaction=False)
    pipe.time()
    pipe.xrevrange(STREAM, count=limit)
    (seconds, micros), entries = pipe.execute()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    since = now_ms - window_ms
    events = []
    for entry_id, fields in entries:
        event = parse_entry(entry_id, fields)
        if event is None:
            continue
        if event.at_ms < since:
            break  # newest first: everything after this one is older still
        events.append(event)
    return Recent(now_ms, tuple(events), truncated=len(entries) >= limit)


@lru_cache(maxsize=4)
def connect(url: str) -> redis.Redis:
    """One client (and connection pool) per URL for the process, short timeouts."""
    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )

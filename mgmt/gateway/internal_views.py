"""Endpoints xds_server calls: fetch the latest snapshot (long-polled), report ACKs and NACKs.

Not for browsers or partners: guarded by a shared bearer token, compared in constant time.
"""

import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from mgmt.gateway import node_conditions, selectors, services, snapshot_feed

_MAX_EVENTS = 10_000
# The longest a snapshot request may be held (xds_server asks for 25 s by default).
_MAX_WAIT_SECONDS = 30.0
_MAX_ERROR_CHARS = 10_000


def _authorized(request: HttpRequest) -> bool:
    presented = request.headers.get("Authorization", "")
    expected = f"Bearer {settings.TOLLGATE_INTERNAL_TOKEN}"
    return hmac.compare_digest(presented.encode(), expected.encode())


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JsonResponse(body, status=status, content_type="application/problem+json")


def _wait_seconds(request: HttpRequest) -> float:
    """`wait`: how long a caller holding the latest version will wait for a newer one."""
    raw = request.GET.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        raise ValueError(f"wait must be a number of seconds, not {raw[:20]!r}") from None
    if not 0 <= wait <= _MAX_WAIT_SECONDS:  # NaN fails this too
        raise ValueError(f"wait must be between 0 and {_MAX_WAIT_SECONDS:g} seconds")
    return wait


def _newer_than(version: str, wait: float) -> str | None:
    """The latest version once it is not `version`, or after `wait` seconds whatever it is."""
    deadline = time.monotonic() + wait
    while not snapshot_feed.feed.closed:
        # The generation is taken before the read: a publication after the read wakes us.
        generation = snapshot_feed.feed.generation()
        latest = selectors.latest_published_snapshot_version()
        remaining = deadline - time.monotonic()
        if latest != version or remaining <= 0:
            return latest
        snapshot_feed.wait_for_change(generation, remaining)
    return version  # mgmt is stopping: 304, and the caller asks again elsewhere


@require_GET
def latest_snapshot(request: HttpRequest) -> HttpResponse:
    """The published snapshot, or 304 for the version the caller holds (the payload, megabytes
    with many keys, is read only to send it). With `wait=N` a caller holding the latest version
    is answered when a newer one is published, or after N seconds (long poll)."""
    if not _authorized(request):
        return _problem(401, "Unauthorized", "a valid internal token is required")
    try:
        wait = _wait_seconds(request)
    except ValueError as exc:
        return _problem(400, "Bad wait", str(exc))
    version = selectors.latest_published_snapshot_version()
    held = request.headers.get("If-None-Match")
    if version is not None and wait and held == f'"{version}"':
        version = _newer_than(version, wait)
    if version is not None and held == f'"{version}"':
        response = HttpResponse(status=304)
    else:
        latest = selectors.latest_published_snapshot()
        if latest is None:
            return _problem(404, "No snapshot", "nothing has been published yet")
        version, payload = latest
        response = HttpResponse(payload, content_type="application/x-protobuf")
    response["ETag"] = f'"{version}"'
    return response


def _text(raw: dict[str, Any], field: str, limit: int) -> str:
    value = str(raw.get(field) or "")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise ValueError(f"{field} must not contain NUL characters")
    return value[:limit]


def _parse_event(raw: Any) -> services.XdsEvent:
    if not isinstance(raw, dict) or raw.get("kind") not in {"ack", "nack"}:
        raise ValueError("each event needs kind 'ack' or 'nack'")
    return services.XdsEvent(
        kind=raw["kind"],
        node_id=_text(raw, "node_id", 200),
        node_cluster=_text(raw, "node_cluster", 200),
        type_url=_text(raw, "type_url", 200),
        version=_text(raw, "version", 64),
        error=_text(raw, "error", _MAX_ERROR_CHARS),
        at=datetime.fromtimestamp(float(raw.get("at", 0)), tz=UTC),
    )


@csrf_exempt
@require_POST
def xds_events(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return _problem(401, "Unauthorized", "a valid internal token is required")
    try:
        payload = json.loads(request.body)
        raw_events = payload["events"]
        if not isinstance(raw_events, list) or len(raw_events) > _MAX_EVENTS:
            raise ValueError(f"events must be a list of at most {_MAX_EVENTS}")
        events = [_parse_event(raw) for raw in raw_events]
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        return _problem(400, "Bad events", str(exc))
    services.record_xds_events(events=events)
    return HttpResponse(status=204)


_MAX_CONDITIONS = 100


def _parse_condition(raw: Any) -> node_conditions.Reported:
    if not isinstance(raw, dict) or not isinstance(raw.get("active"), bool):
        raise ValueError("each condition needs node_id, name, active (bool), since, detail")
    node_id, name = _text(raw, "node_id", 200), _text(raw, "name", 64)
    if not node_id or not name:
        raise ValueError("a condition names its node and itself")
    return node_conditions.Reported(
        node_id=node_id,
        name=name,
        active=raw["active"],
        since=datetime.fromtimestamp(float(raw["since"]), tz=UTC),
        detail=_text(raw, "detail", 500),
    )


@csrf_exempt
@require_POST
def xds_conditions(request: HttpRequest) -> HttpResponse:
    """Degraded states nodes reported to xds_server, which proved who each node is."""
    if not _authorized(request):
        return _problem(401, "Unauthorized", "a valid internal token is required")
    try:
        raw_conditions = json.loads(request.body)["conditions"]
        if not isinstance(raw_conditions, list) or len(raw_conditions) > _MAX_CONDITIONS:
            raise ValueError(f"conditions must be a list of at most {_MAX_CONDITIONS}")
        conditions = [_parse_condition(raw) for raw in raw_conditions]
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        return _problem(400, "Bad conditions", str(exc))
    node_conditions.record(conditions)
    return HttpResponse(status=204)

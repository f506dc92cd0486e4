"""The Redis contract between the access-log collector and the fold job: key and field names.

A minute hash `tollgate:usage:m:<minute>` holds counters named `field(dims, metric)`; a cover
hash `tollgate:usage:cover:<minute>` holds, per Envoy node, the seconds the collector had a
stream from it; `tollgate:usage:keys` maps an API key id to the minute it was last used.
"""

from __future__ import annotations

from typing import Final, NamedTuple

MINUTE_KEY_PREFIX: Final = "tollgate:usage:m:"
COVER_KEY_PREFIX: Final = "tollgate:usage:cover:"
LAST_USED_KEY: Final = "tollgate:usage:keys"
# The collector's own bookkeeping (not read by the fold job): when each Envoy node last held
# a stream (HASH node -> unix seconds), so a restarted collector can tell how long it was
# away; and one key per flush, written in the flush's transaction, so a flush whose reply
# was lost is known to have been applied (never counted twice).
NODES_SEEN_KEY: Final = "tollgate:usage:nodes"
FLUSH_MARKER_PREFIX: Final = "tollgate:usage:flush:"
KEY_TTL_SECONDS: Final = 3 * 86400  # every usage key expires (safety net if the fold stops)

REQUESTS: Final = "n"
ERRORS: Final = "e"  # status >= 500
THROTTLED: Final = "t"  # the gateway's own 429 (ext_authz denial), not an upstream's
BYTES_IN: Final = "bi"
BYTES_OUT: Final = "bo"
DURATION_SUM: Final = "ds"  # µs
UPSTREAM_SUM: Final = "us"  # µs
HISTOGRAM_PREFIX: Final = "h"  # + bucket index (accesslog.histogram)
COUNTERS: Final = frozenset(
    {REQUESTS, ERRORS, THROTTLED, BYTES_IN, BYTES_OUT, DURATION_SUM, UPSTREAM_SUM}
)

STATUS_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
# Ids are PostgreSQL bigints: at most 19 digits.
MAX_ID_DIGITS: Final = 19
_MAX_ID: Final = 2**63 - 1
_HISTOGRAM_INDEX_DIGITS: Final = 4
_SEPARATOR: Final = "|"


class Dims(NamedTuple):
    """What a minute's counters are kept per; ids 0 mean unknown (unattributed, no app)."""

    api: int
    version: int
    route: int
    application: int
    status_class: str


def status_class(status: int) -> str:
    """ "1xx".."5xx" for 100 <= status <= 599, else "other" (0: no response was sent)."""
    if 100 <= status <= 599:
        return STATUS_CLASSES[status // 100 - 1]
    return "other"


def minute_key(minute: int) -> str:
    return f"{MINUTE_KEY_PREFIX}{minute}"


def cover_key(minute: int) -> str:
    return f"{COVER_KEY_PREFIX}{minute}"


def field(dims: Dims, metric: str) -> str:
    api, version, route, application, klass = dims
    return f"{api}|{version}|{route}|{application}|{klass}|{metric}"


def histogram_metric(index: int) -> str:
    return f"{HISTOGRAM_PREFIX}{index}"


def parse_field(name: str) -> tuple[Dims, str] | None:
    """The dims and metric of a minute hash field; None for anything `field` never writes."""
    parts = name.split(_SEPARATOR)
    if len(parts) != 6:
        return None
    api, version, route, application, klass, metric = parts
    ids = [_id(api), _id(version), _id(route), _id(application)]
    if None in ids or klass not in STATUS_CLASSES or not _is_metric(metric):
        return None
    return Dims(ids[0] or 0, ids[1] or 0, ids[2] or 0, ids[3] or 0, klass), metric


def minute_of_key(key: str, prefix: str = MINUTE_KEY_PREFIX) -> int | None:
    """The minute of a key `minute_key` (or, with `prefix=COVER_KEY_PREFIX`, `cover_key`)
    made; None for any other key."""
    if not key.startswith(prefix):
        return None
    return _id(key[len(prefix) :])


def _id(text: str) -> int | None:
    """A canonical non-negative decimal that fits a bigint ("0", "42"; not "042", "+4", "4.0")."""
    if not (0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    if len(text) > 1 and text[0] == "0":
        return None
    value = int(text)
    return value if value <= _MAX_ID else None


def _is_metric(metric: str) -> bool:
    if metric in COUNTERS:
        return True
    if not metric.startswith(HISTOGRAM_PREFIX):
        return False
    index = metric[len(HISTOGRAM_PREFIX) :]
    return len(index) <= _HISTOGRAM_INDEX_DIGITS and _id(index) is not None

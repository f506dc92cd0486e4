"""What one Envoy HTTP access-log entry says about traffic: pure, and never raises.

Attribution comes only from what Tollgate itself put there: the route's custom tags
(`tollgate.api`, `tollgate.version`, `tollgate.route`) and the ext_authz sidecar's dynamic
metadata (application id and the key's visible id). Anything missing or not a plain
positive decimal id leaves the entry unattributed (ids 0) rather than guessing; a key id not
of the issued shape is no key ("").
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from envoy.data.accesslog.v3 import accesslog_pb2

from accesslog.usage_keys import MAX_ID_DIGITS
from extauthz.keys import KEY_ID_LENGTH

# (api, version, route, application, status_class): equal to and hashed as `usage_keys.Dims`,
# but a plain tuple is several times cheaper to build per entry.
DimsKey = tuple[int, int, int, int, str]

API_TAG: Final = "tollgate.api"
VERSION_TAG: Final = "tollgate.version"
ROUTE_TAG: Final = "tollgate.route"
EXT_AUTHZ_NAMESPACE: Final = "envoy.filters.http.ext_authz"
# The sidecar's HTTP mode names its metadata after the headers it sets; gRPC mode plainly.
HTTP_APPLICATION_FIELD: Final = "x-tollgate-application-id"
GRPC_APPLICATION_FIELD: Final = "application_id"
HTTP_KEY_FIELD: Final = "x-tollgate-key-id"
GRPC_KEY_FIELD: Final = "key_id"

# Only an entry logged when the downstream request ended is a request; start and periodic
# entries of the same request (and router upstream logs) would count it twice.
_FINAL_TYPES: Final = frozenset(
    {accesslog_pb2.AccessLogType.NotSet, accesslog_pb2.AccessLogType.DownstreamEnd}
)
# A start time this far from the receiving minute is a broken clock, not a long request.
MAX_AGE_MINUTES: Final = 24 * 60
MAX_AHEAD_MINUTES: Final = 1
_MAX_ID: Final = 2**63 - 1
_CLASSES: Final = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")
# Ids repeat from entry to entry: each text is parsed once (the cache is emptied when full).
_IDS_CACHED: Final = 65_536
_ids: dict[str, int] = {}
# A NamedTuple built through its class costs 4 times a tuple; through tuple.__new__ less.
_new_facts: Final = tuple.__new__
# Issued key ids are lower-case base32 (extauthz.keys.issue_key).
_KEY_ID_ALPHABET: Final = frozenset("abcdefghijklmnopqrstuvwxyz234567")


class Facts(NamedTuple):
    minute: int  # floor(start_time / 60), UTC
    dims: DimsKey
    bytes_in: int
    bytes_out: int
    duration_us: int  # until the last byte went downstream (Envoy's total)
    upstream_us: int  # first byte sent upstream to last byte received; 0 when unknown
    error: bool  # status >= 500
    throttled: bool  # the gateway's own 429 (ext_authz denied), not an upstream's
    key_id: str  # the visible id of the API key the sidecar matched; "" when none


def read(entry: Any, now_minute: int) -> Facts | None:
    """The facts of one `HTTPAccessLogEntry`; None for an entry that is not a finished
    request (a start or periodic entry) or cannot be read at all."""
    try:
        return _read(entry, now_minute)
    except Exception:  # a wrong type, say: one bad entry must never end a stream
        return None


def _read(entry: Any, now_minute: int) -> Facts | None:
    # Every access to a upb field builds a Python object: each is read once, and absent
    # submessages are read as zeros rather than asked about with HasField first.
    common = entry.common_properties
    # access_log_type supersedes the deprecated intermediate_log_entry flag.
    if common.access_log_type not in _FINAL_TYPES:
        return None
    tags = common.custom_tags
    api = parse_id(tags.get(API_TAG))
    version = parse_id(tags.get(VERSION_TAG))
    route = parse_id(tags.get(ROUTE_TAG))
    if not (api and version and route):
        api = version = route = 0
    application = 0
    key_id = ""
    authz = common.metadata.filter_metadata.get(EXT_AUTHZ_NAMESPACE)
    if authz is not None:
        fields = authz.fields
        # string_value is "" for a number or a bool: not what the sidecar sets.
        value = fields.get(HTTP_APPLICATION_FIELD) or fields.get(GRPC_APPLICATION_FIELD)
        if value is not None:
            application = parse_id(value.string_value)
        value = fields.get(HTTP_KEY_FIELD) or fields.get(GRPC_KEY_FIELD)
        if value is not None:
            key_id = key_id_of(value.string_value)

    response = entry.response
    status = response.response_code.value
    throttled = status == 429 and common.response_flags.HasField("unauthorized_details")
    request = entry.request

    minute = common.start_time.seconds // 60
    if not now_minute - MAX_AGE_MINUTES <= minute <= now_minute + MAX_AHEAD_MINUTES:
        minute = now_minute

    total = common.time_to_last_downstream_tx_byte
    duration_us = total.seconds * 1_000_000 + total.nanos // 1000
    if duration_us <= 0:  # no response was sent (status 0): how long the stream lived
        total = common.duration
        duration_us = max(0, total.seconds * 1_000_000 + total.nanos // 1000)
    upstream_us = 0
    sent = common.time_to_first_upstream_tx_byte
    sent_us = sent.seconds * 1_000_000 + sent.nanos // 1000
    if sent_us > 0:  # an upstream request was sent
        received = common.time_to_last_upstream_rx_byte
        received_us = received.seconds * 1_000_000 + received.nanos // 1000
        if received_us > sent_us:
            upstream_us = received_us - sent_us
    return _new_facts(
        Facts,
        (
            minute,
            (api, version, route, application, _class_of(status)),
            request.request_headers_bytes + request.request_body_bytes,
            response.response_headers_bytes + response.response_body_bytes,
            duration_us,
            upstream_us,
            status >= 500,
            throttled,
            key_id,
        ),
    )


def key_id_of(text: str) -> str:
    """An issued key's visible id as the sidecar logged it, else "" (no key)."""
    if len(text) == KEY_ID_LENGTH and _KEY_ID_ALPHABET.issuperset(text):
        return text
    return ""


def parse_id(text: str | None) -> int:
    """A plain positive decimal id that fits a bigint ("42"), else 0 ("", "042", "-1", "4e2",
    "+4", " 4", 20 digits, non-ASCII digits)."""
    if text is None or len(text) > MAX_ID_DIGITS:
        return 0
    value = _ids.get(text)
    if value is None:
        value = _parse_id(text)
        if len(_ids) >= _IDS_CACHED:
            _ids.clear()
        _ids[text] = value
    return value


def _parse_id(text: str) -> int:
    if not text or text[0] == "0" or not text.isascii() or not text.isdigit():
        return 0
    value = int(text)
    return value if value <= _MAX_ID else 0


def _class_of(status: int) -> str:
    return _CLASSES[status // 100] if 100 <= status <= 599 else "other"

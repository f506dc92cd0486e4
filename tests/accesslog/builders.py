"""Envoy access-log messages as Envoy sends them, for the collector's tests and bench."""

from __future__ import annotations

from typing import Final

from envoy.data.accesslog.v3 import accesslog_pb2
from envoy.service.accesslog.v3 import als_pb2

from accesslog.auth import TOKEN_FIELD
from accesslog.entries import API_TAG, EXT_AUTHZ_NAMESPACE, ROUTE_TAG, VERSION_TAG

# 2025-01-01T00:00:00Z: minute 29_200_320 (tests pass `now` near it).
T0 = 1_735_689_600
MINUTE0 = T0 // 60


_BASE32: Final = "abcdefghijklmnopqrstuvwxyz234567"


def key_id(n: int) -> str:
    """A key id of the issued shape (12 lower-case base32 characters) for a small number."""
    return "".join(_BASE32[(n >> (5 * i)) & 31] for i in range(12))


def entry(
    *,
    api: int | str | None = 1,
    version: int | str | None = 2,
    route: int | str | None = 3,
    application: int | str | None = None,
    key: int | str | None = None,
    grpc_mode: bool = False,
    status: int = 200,
    start: float = T0 + 5,
    total_us: int | None = 1500,
    upstream_us: int | None = None,
    bytes_in: tuple[int, int] = (100, 20),
    bytes_out: tuple[int, int] = (200, 1000),
    denied: bool = False,
    path: str = "/orders/1",
    log_type: int = accesslog_pb2.AccessLogType.DownstreamEnd,
) -> accesslog_pb2.HTTPAccessLogEntry:
    e = accesslog_pb2.HTTPAccessLogEntry()
    common = e.common_properties
    common.access_log_type = log_type
    for tag, value in ((API_TAG, api), (VERSION_TAG, version), (ROUTE_TAG, route)):
        if value is not None:
            common.custom_tags[tag] = str(value)
    names = (
        ("application_id", "key_id")
        if grpc_mode
        else (
            "x-tollgate-application-id",
            "x-tollgate-key-id",
        )
    )
    if isinstance(key, int):
        key = key_id(key)
    for name, value in zip(names, (application, key), strict=True):
        if value is not None:
            metadata = common.metadata.filter_metadata[EXT_AUTHZ_NAMESPACE]
            metadata.fields[name].string_value = str(value)
    common.start_time.seconds = int(start)
    common.start_time.nanos = int((start % 1) * 1e9)
    if total_us is not None:
        common.time_to_last_downstream_tx_byte.FromMicroseconds(total_us)
    if upstream_us is not None:
        common.time_to_first_upstream_tx_byte.FromMicroseconds(100)
        common.time_to_last_upstream_rx_byte.FromMicroseconds(100 + upstream_us)
    if denied:
        common.response_flags.unauthorized_details.reason = (
            accesslog_pb2.ResponseFlags.Unauthorized.EXTERNAL_SERVICE
        )
    if status:
        e.response.response_code.value = status
    e.request.request_headers_bytes, e.request.request_body_bytes = bytes_in
    e.response.response_headers_bytes, e.response.response_body_bytes = bytes_out
    e.request.path = path
    e.request.request_method = 1
    return e


def message(
    entries: list[accesslog_pb2.HTTPAccessLogEntry],
    *,
    node: str | None = None,
    token: str | None = None,
) -> als_pb2.StreamAccessLogsMessage:
    """A message of a stream; the first one names the node (with its token, if given)."""
    m = als_pb2.StreamAccessLogsMessage()
    if node is not None:
        m.identifier.node.id = node
        m.identifier.log_name = "tollgate"
        if token is not None:
            m.identifier.node.metadata.fields[TOKEN_FIELD].string_value = token
    m.http_logs.log_entry.extend(entries)
    return m

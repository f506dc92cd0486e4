"""Serialized `CheckResponse`s, built once: denials at import, allowances per cache miss,
a sunset version's 410 per body.

The hot path only ever returns bytes made here; no protobuf is built per request.
"""

import functools
from typing import Final

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2

from extauthz.problems import CATALOGUE, CONTENT_TYPE, VERSION_RETIRED, Problem

# google.rpc.Code values carried in CheckResponse.status.
_OK: Final = 0
_PERMISSION_DENIED: Final = 7
_UNAVAILABLE: Final = 14
_UNAUTHENTICATED: Final = 16

# Identity headers are overwritten, so a client cannot forge them by sending its own.
_OVERWRITE: Final = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

CONSUMER_ID_HEADER: Final = "x-consumer-id"
APPLICATION_ID_HEADER: Final = "x-application-id"
PLAN_HEADER: Final = "x-plan"


def _grpc_code(http_status: int) -> int:
    if http_status == 401:
        return _UNAUTHENTICATED
    if http_status == 503:
        return _UNAVAILABLE
    return _PERMISSION_DENIED


def _set_header(option: base_pb2.HeaderValueOption, key: str, value: str) -> None:
    option.header.key = key
    option.header.value = value
    option.append_action = _OVERWRITE


def denied(problem: Problem, body: str | None = None) -> bytes:
    """The serialized CheckResponse that makes Envoy answer `problem` itself, with its own
    body or `body` (the same problem told for one occurrence, see Problem.json)."""
    response = external_auth_pb2.CheckResponse()
    response.status.code = _grpc_code(problem.status)
    response.status.message = problem.slug
    denial = response.denied_response
    denial.status.code = problem.status
    headers = [("content-type", CONTENT_TYPE), ("cache-control", "no-store")]
    if problem.status == 401:
        headers.append(("www-authenticate", 'Bearer realm="tollgate"'))
    for key, value in headers:
        _set_header(denial.headers.add(), key, value)
    denial.body = problem.body.decode() if body is None else body
    return bytes(response.SerializeToString())


DENIED: Final[dict[str, bytes]] = {problem.slug: denied(problem) for problem in CATALOGUE}


# Bodies come from the route config: a few per retired version, each serialized once.
@functools.lru_cache(maxsize=1024)
def retired(body: str) -> bytes:
    """The 410 of a version past its sunset, with the route's body (which names its successor).

    A body protobuf cannot carry (a lone surrogate) gets the generic VERSION_RETIRED instead.
    """
    try:
        return denied(VERSION_RETIRED, body)
    except ValueError:
        return DENIED[VERSION_RETIRED.slug]


def allowed(
    *,
    application_id: int,
    public_id: str,
    consumer_id: str,
    plan: str,
    subscription_id: str,
    api_id: str,
    carrier: str,
) -> bytes:
    """The serialized OK CheckResponse for one application calling one API.

    `carrier` is the request header that held the key: Envoy strips it, so the
    upstream never sees the caller's secret. The dynamic metadata (all strings, so
    64-bit ids survive) is what the rate-limit filter builds its descriptors from.
    """
    response = external_auth_pb2.CheckResponse()
    response.status.code = _OK
    ok = response.ok_response
    for key, value in (
        (CONSUMER_ID_HEADER, consumer_id),
        (APPLICATION_ID_HEADER, public_id),
        (PLAN_HEADER, plan),
    ):
        _set_header(ok.headers.add(), key, value)
    ok.headers_to_remove.append(carrier)
    response.dynamic_metadata.update(
        {
            "application_id": str(application_id),
            "consumer_id": consumer_id,
            "plan": plan,
            "subscription_id": subscription_id,
            "api_id": api_id,
        }
    )
    return bytes(response.SerializeToString())

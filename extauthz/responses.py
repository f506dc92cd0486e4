"""Serialized gRPC `CheckResponse`s: a denial with its problem body, and an application's
OK with its identity headers and dynamic metadata. Built once each (see answers.py), so the
hot path never builds these per request.
"""

from typing import Final

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2

from extauthz.problems import CONTENT_TYPE, Problem

# google.rpc.Code values carried in CheckResponse.status.
_OK: Final = 0
PERMISSION_DENIED_CODE: Final = 7
_UNAVAILABLE: Final = 14
_UNAUTHENTICATED: Final = 16

# Identity headers are overwritten, so a client cannot forge them by sending its own.
OVERWRITE: Final = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

CONSUMER_ID_HEADER: Final = "x-consumer-id"
APPLICATION_ID_HEADER: Final = "x-application-id"
PLAN_HEADER: Final = "x-plan"


_METADATA_PREFIX: Final = "x-tollgate-"


def grpc_metadata(headers: dict[str, str]) -> dict[str, str]:
    """The gRPC mode's names for the HTTP mode's metadata headers: `x-tollgate-key-id` is
    `key_id` (what the access-log collector reads in either mode)."""
    return {
        name.removeprefix(_METADATA_PREFIX).replace("-", "_"): value
        for name, value in headers.items()
    }


def _grpc_code(http_status: int) -> int:
    if http_status == 401:
        return _UNAUTHENTICATED
    if http_status == 503:
        return _UNAVAILABLE
    return PERMISSION_DENIED_CODE


def _set_header(option: base_pb2.HeaderValueOption, key: str, value: str) -> None:
    option.header.key = key
    option.header.value = value
    option.append_action = OVERWRITE


DEFAULT_CHALLENGE = 'Bearer realm="tollgate"'


def denied(problem: Problem, body: str | None = None, challenge: str | None = None) -> bytes:
    """The serialized CheckResponse that makes Envoy answer `problem` itself, with its own
    body or `body` (the same problem told for one occurrence, see Problem.json), and on a
    401 (or with `challenge`) a WWW-Authenticate challenge."""
    response = external_auth_pb2.CheckResponse()
    response.status.code = _grpc_code(problem.status)
    response.status.message = problem.slug
    denial = response.denied_response
    denial.status.code = problem.status
    headers = [("content-type", CONTENT_TYPE), ("cache-control", "no-store")]
    if challenge or problem.status == 401:
        headers.append(("www-authenticate", challenge or DEFAULT_CHALLENGE))
    for key, value in headers:
        _set_header(denial.headers.add(), key, value)
    denial.body = problem.body.decode() if body is None else body
    return bytes(response.SerializeToString())


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
    64-bit ids survive) tells the rest of Envoy's filters and its access log who called.
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

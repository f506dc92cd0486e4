"""The one decision's answers, in both of Envoy's ext_authz protocols, built once where they
can be: denials at import, an application's allowance per snapshot (on first use), and only
the RateLimit figures and Retry-After per request.

gRPC answers are serialized `CheckResponse`s. A per-request part is appended as a second
serialized CheckResponse: protobuf merges concatenated messages, appending repeated fields
of nested messages, so the prebuilt bytes never need parsing.

HTTP answers are whole HTTP/1.1 responses. Envoy's HTTP mode copies `x-consumer-id`,
`x-application-id` and `x-plan` upstream (allowed_upstream_headers), the RateLimit headers
to the client (allowed_client_headers_on_success), the `x-tollgate-*` ones into dynamic
metadata (dynamic_metadata_from_headers), and removes the headers named in
`x-envoy-auth-headers-to-remove` (the one that carried the key) before going upstream.

The dynamic metadata is who called, for Envoy's access log (and so the analytics): on every
allowed answer, and on the refusals of a known application (429, 403 not subscribed), so a
throttled call is counted against its application. The key id (the key's visible part,
never its secret) is the one per-request part.
"""

import functools
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from envoy.service.auth.v3 import external_auth_pb2

from extauthz import problems, responses
from extauthz.http_server import response
from extauthz.problems import CONTENT_TYPE, Problem
from ratelimit_svc.problems import RATE_LIMIT_UNAVAILABLE

# Envoy's HTTP ext_authz removes the request headers this answer header names.
HEADERS_TO_REMOVE: Final = "x-envoy-auth-headers-to-remove"
# Dynamic metadata in HTTP mode: these answer headers become the filter's metadata.
METADATA_HEADERS: Final = (
    "x-tollgate-application-id",
    "x-tollgate-subscription-id",
    "x-tollgate-api-id",
    "x-tollgate-plan",
    "x-tollgate-key-id",
)
KEY_ID_METADATA_HEADER: Final = METADATA_HEADERS[4]
RATELIMIT_HEADERS: Final = ("ratelimit-policy", "ratelimit")
DRAFT03_HEADERS: Final = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
REFUSAL_HEADERS: Final = ("retry-after", *RATELIMIT_HEADERS, *DRAFT03_HEADERS)


@dataclass(frozen=True, slots=True)
class Denial:
    """A refusal decided before any counting: the problem, in both protocols."""

    slug: str
    grpc: bytes
    http: bytes


def _http_denial(problem: Problem, body: str | None = None, challenge: str | None = None) -> bytes:
    headers = [("content-type", CONTENT_TYPE), ("cache-control", "no-store")]
    if challenge or problem.status == 401:
        headers.append(("www-authenticate", challenge or responses.DEFAULT_CHALLENGE))
    text = problem.body if body is None else body.encode()
    return response(problem.status, HTTPStatus(problem.status).phrase, headers, text)


def denial(problem: Problem, challenge: str | None = None) -> Denial:
    return Denial(
        problem.slug,
        responses.denied(problem, challenge=challenge),
        _http_denial(problem, challenge=challenge),
    )


def _quotable(text: str) -> str:
    """Text fit for a quoted-string of a challenge and a problem's detail: printable ASCII,
    no quote or backslash, bounded (jwt_authn's messages are all of that already)."""
    kept = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "?" for c in text)
    return kept[:200]


@functools.lru_cache(maxsize=256)
def invalid_token(reason: str) -> Denial:
    """A bearer token refused, saying why (RFC 6750 §3.1 invalid_token)."""
    why = _quotable(reason)
    problem = problems.INVALID_TOKEN
    detail = f"{problem.detail} {why[:1].upper()}{why[1:]}." if why else problem.detail
    challenge = f'Bearer realm="tollgate", error="invalid_token", error_description="{why}"'
    return Denial(
        problem.slug,
        responses.denied(problem, problem.json(detail), challenge),
        _http_denial(problem, problem.json(detail), challenge),
    )


@functools.lru_cache(maxsize=1024)
def insufficient_scope(scope: str) -> Denial:
    """A valid token without a scope the route requires (RFC 6750 §3.1), naming it."""
    wanted = _quotable(scope)
    problem = problems.INSUFFICIENT_SCOPE
    body = problem.json(
        f"This operation needs the scope '{wanted}', which the token does not carry. "
        "Ask the authorization server for a token with it.",
        {"scope": wanted},
    )
    challenge = f'Bearer realm="tollgate", error="insufficient_scope", scope="{wanted}"'
    return Denial(
        problem.slug,
        responses.denied(problem, body, challenge),
        _http_denial(problem, body, challenge),
    )


DENIALS: Final[dict[str, Denial]] = {
    p.slug: denial(p) for p in (*problems.CATALOGUE, RATE_LIMIT_UNAVAILABLE)
}


# Envoy's HTTP mode takes any 5xx from the authorization server for a failure of the
# server itself (its status_on_error, and no body). So over HTTP the sidecar says "the
# counters are down" with this status, which the compiled listener's local reply turns
# into the route's configured 5xx and the rate-limit-unavailable problem.
COUNTERS_DOWN_HTTP_STATUS: Final = 424


@functools.lru_cache(maxsize=16)
def counters_unavailable(status: int) -> Denial:
    """A fail-closed route's answer while the counters are unreachable: at its status over
    gRPC; over HTTP, at COUNTERS_DOWN_HTTP_STATUS for the listener to map."""
    problem = RATE_LIMIT_UNAVAILABLE
    grpc = responses.denied(Problem(problem.slug, status, problem.title, problem.detail))
    http = _http_denial(
        Problem(problem.slug, COUNTERS_DOWN_HTTP_STATUS, problem.title, problem.detail)
    )
    return Denial(problem.slug, grpc, http)


@functools.lru_cache(maxsize=1024)
def retired(body: str) -> Denial:
    """The 410 of a version past its sunset, with the route's body (naming its successor)."""
    try:
        return Denial(
            problems.VERSION_RETIRED.slug,
            responses.denied(problems.VERSION_RETIRED, body),
            _http_denial(problems.VERSION_RETIRED, body),
        )
    except ValueError:  # a body neither protocol can carry
        return DENIALS[problems.VERSION_RETIRED.slug]


@dataclass(frozen=True, slots=True)
class Allowance:
    """An application allowed to call an API through one subscription: what is counted,
    and the prebuilt OK answers before any RateLimit header."""

    subscription_id: str
    grpc: bytes
    # Status line and headers, without the blank line that ends them.
    http_head: bytes
    # Who called, as dynamic metadata: header lines (HTTP) and Struct fields (gRPC), for the
    # refusals of this application.
    http_metadata: bytes
    metadata: dict[str, str]


def _metadata_lines(values: dict[str, str]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in values.items()).encode()


def _identity(application_id: int, subscription_id: str, api_id: str, plan: str) -> dict[str, str]:
    """The HTTP mode's metadata headers and their values (the key id is added per request)."""
    application, subscription, api, plan_header, _key = METADATA_HEADERS
    return {
        application: str(application_id),
        subscription: subscription_id,
        api: api_id,
        plan_header: plan,
    }


def not_subscribed(*, application_id: int, api_id: str) -> Denial:
    """The 403 of an application with no subscription to the API, naming it in the metadata
    only (never to the client), so the refusal is counted against it."""
    problem = problems.NOT_SUBSCRIBED
    if not (api_id.isascii() and api_id.isdigit()):  # not the compiler's: name nobody
        return DENIALS[problem.slug]
    identity = {METADATA_HEADERS[0]: str(application_id), METADATA_HEADERS[2]: api_id}
    grpc = external_auth_pb2.CheckResponse()
    grpc.ParseFromString(responses.denied(problem))
    grpc.dynamic_metadata.update(responses.grpc_metadata(identity))
    http = _http_denial(problem)
    head, _, body = http.partition(b"\r\n\r\n")
    return Denial(
        problem.slug,
        bytes(grpc.SerializeToString()),
        head + b"\r\n" + _metadata_lines(identity) + b"\r\n" + body,
    )


def allowance(
    *,
    application_id: int,
    public_id: str,
    consumer_id: str,
    plan: str,
    subscription_id: str,
    api_id: str,
    carrier: str,
) -> Allowance:
    grpc = responses.allowed(
        application_id=application_id,
        public_id=public_id,
        consumer_id=consumer_id,
        plan=plan,
        subscription_id=subscription_id,
        api_id=api_id,
        carrier=carrier,
    )
    identity = _identity(application_id, subscription_id, api_id, plan)
    head = response(
        200,
        "OK",
        [
            (responses.CONSUMER_ID_HEADER, consumer_id),
            (responses.APPLICATION_ID_HEADER, public_id),
            (responses.PLAN_HEADER, plan),
            (HEADERS_TO_REMOVE, carrier),
            *identity.items(),
        ],
    )
    return Allowance(
        subscription_id,
        grpc,
        head[:-2],
        _metadata_lines(identity),
        responses.grpc_metadata(identity),
    )


_END: Final = b"\r\n"
_KEY_ID_LINE: Final = f"{KEY_ID_METADATA_HEADER}: ".encode()


@functools.lru_cache(maxsize=65_536)
def _key_id_line(key_id: str) -> bytes:
    return _KEY_ID_LINE + key_id.encode() + _END


@functools.lru_cache(maxsize=65_536)
def _grpc_key_id(key_id: str) -> bytes:
    """A CheckResponse holding only the key id's metadata: appended to a prebuilt answer,
    protobuf merges it into the answer's dynamic metadata (map fields merge by key)."""
    extra = external_auth_pb2.CheckResponse()
    extra.dynamic_metadata.update(responses.grpc_metadata({KEY_ID_METADATA_HEADER: key_id}))
    return bytes(extra.SerializeToString())


def http_allowed(allowance: Allowance, headers: list[tuple[str, str]], key_id: str) -> bytes:
    if not headers:
        return allowance.http_head + _key_id_line(key_id) + _END
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return allowance.http_head + _key_id_line(key_id) + lines.encode() + _END


def grpc_allowed(allowance: Allowance, headers: list[tuple[str, str]], key_id: str) -> bytes:
    if not headers:
        return allowance.grpc + _grpc_key_id(key_id)
    extra = external_auth_pb2.CheckResponse()
    added = extra.ok_response.response_headers_to_add
    for name, value in headers:
        option = added.add()
        option.header.key = name
        option.header.value = value
    return allowance.grpc + _grpc_key_id(key_id) + bytes(extra.SerializeToString())


def _refusal_headers(
    headers: list[tuple[str, str]], retry_after: int | None
) -> list[tuple[str, str]]:
    out = [("content-type", CONTENT_TYPE), ("cache-control", "no-store")]
    if retry_after is not None:
        out.append(("retry-after", str(retry_after)))
    return out + headers


def http_refused(
    allowance: Allowance,
    key_id: str,
    body: bytes,
    retry_after: int | None,
    headers: list[tuple[str, str]],
) -> bytes:
    answer = response(429, "Too Many Requests", _refusal_headers(headers, retry_after), body)
    # The metadata lines go after the status line: Envoy keeps them out of the client's reply.
    status_line, _, rest = answer.partition(_END)
    return status_line + _END + allowance.http_metadata + _key_id_line(key_id) + rest


def grpc_refused(
    allowance: Allowance,
    key_id: str,
    body: bytes,
    retry_after: int | None,
    headers: list[tuple[str, str]],
) -> bytes:
    answer = external_auth_pb2.CheckResponse()
    answer.dynamic_metadata.update(allowance.metadata)
    answer.dynamic_metadata.update(responses.grpc_metadata({KEY_ID_METADATA_HEADER: key_id}))
    answer.status.code = responses.PERMISSION_DENIED_CODE
    answer.status.message = "rate-limited"
    denied = answer.denied_response
    denied.status.code = 429
    for name, value in _refusal_headers(headers, retry_after):
        option = denied.headers.add()
        option.header.key = name
        option.header.value = value
        option.append_action = responses.OVERWRITE
    denied.body = body.decode()
    return bytes(answer.SerializeToString())

"""Who is calling and may it call: request headers and the route's context in, a denial or
the caller's allowance out. Counting comes after (meter.py), for allowed callers only.

Pure and total: no I/O, no clock (`now` is passed in), no exception for any input. Every
answer is prebuilt; the key is never logged nor echoed.
"""

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from extauthz import answers, problems
from extauthz.answers import Allowance, Denial
from extauthz.caller_ids import (
    CLIENT_CERT_HEADER,
    TOKEN_ALG_HEADER,
    TOKEN_CLIENT_HEADERS,
    TOKEN_ERROR_HEADER,
    TOKEN_ISSUER_HEADER,
    TOKEN_KID_HEADER,
    TOKEN_SCOPE_HEADER,
    certificate_id,
    token_client_id,
)
from extauthz.keys import KEY_ID_LENGTH, PREFIX, hash_key, key_id_of
from extauthz.route_context import RouteContext
from extauthz.store import CREDENTIAL_TAIL, HASH_LENGTH, Snapshot, Store
from extauthz.token_checks import header_error, missing_scope

API_KEY_HEADER: Final = "x-api-key"
AUTHORIZATION_HEADER: Final = "authorization"

_DENIED: Final = answers.DENIALS
MISSING: Final = _DENIED[problems.MISSING_CREDENTIALS.slug]
INVALID: Final = _DENIED[problems.INVALID_CREDENTIALS.slug]
REVOKED: Final = _DENIED[problems.REVOKED_CREDENTIALS.slug]
EXPIRED: Final = _DENIED[problems.EXPIRED_CREDENTIALS.slug]
NOT_SUBSCRIBED: Final = _DENIED[problems.NOT_SUBSCRIBED.slug]
UNKNOWN_API: Final = _DENIED[problems.UNKNOWN_API.slug]
RETIRED: Final = _DENIED[problems.VERSION_RETIRED.slug]
UNAVAILABLE: Final = _DENIED[problems.UNAVAILABLE.slug]

_unpack_tail = CREDENTIAL_TAIL.unpack_from
_compare = hmac.compare_digest
_retired_with_body = answers.retired


@dataclass(frozen=True, slots=True)
class _CredentialDenials:
    missing: Denial
    invalid: Denial
    revoked: Denial
    expired: Denial


_CREDENTIALS: Final = _CredentialDenials(MISSING, INVALID, REVOKED, EXPIRED)
# A draft is visible to its owner only: to anyone else, whatever their key, it does not exist,
# so a 401 must not tell a keyless caller that something is there.
_DRAFT_CREDENTIALS: Final = _CredentialDenials(UNKNOWN_API, UNKNOWN_API, UNKNOWN_API, UNKNOWN_API)


def bearer_token(value: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (scheme case-insensitive)."""
    scheme, _, token = value.partition(" ")
    if len(scheme) != 6 or scheme.lower() != "bearer":
        return None
    return token.strip(" ") or None


_KEY_ID_START: Final = len(PREFIX)
_KEY_ID_END: Final = len(PREFIX) + KEY_ID_LENGTH
# What the access log records as the "key id" of callers that hold no key.
TOKEN_CALLER: Final = "token"  # noqa: S105 (a label)
CERTIFICATE_CALLER: Final = "certificate"


def presented_key_id(headers: Mapping[str, str]) -> str:
    """The visible key id of the key an allowed request presented (decide checked it): what
    the access log records, never the secret; for a token or certificate caller, which."""
    presented = headers.get(API_KEY_HEADER)
    if not presented:
        presented = bearer_token(headers.get(AUTHORIZATION_HEADER, "")) or ""
        if not presented:
            return CERTIFICATE_CALLER
        if headers.get(TOKEN_ISSUER_HEADER):
            return TOKEN_CALLER
    return presented[_KEY_ID_START:_KEY_ID_END]


# One return per outcome, in the documented order: a flat table reads best here.
def decide(  # noqa: PLR0911, PLR0912
    headers: Mapping[str, str],
    route: RouteContext | None,
    store: Store,
    now: float,
) -> Denial | Allowance:
    """Decide who calls. `headers` use Envoy's lower-case names.

    In order: no Tollgate route 404; a retired version, or one past its sunset, 410 for
    everyone; no data yet 503; credentials 401 (404 on a draft: see _DRAFT_CREDENTIALS);
    a draft of another organisation 404; a token without a required scope 403; no
    subscription 403; else the caller's allowance.

    The credential is the x-api-key header, else the Authorization bearer (a key, or on a
    route that accepts tokens, a token jwt_authn verified), else the TLS client certificate.
    """
    if route is None:
        return UNKNOWN_API
    # A retired version is retired for everyone: no key is looked at.
    lifecycle = route.lifecycle
    if lifecycle == "retired":
        return RETIRED
    if route.sunset and route.sunset <= now:
        body = route.retired_body
        return _retired_with_body(body) if body else RETIRED
    snapshot = store.snapshot
    if snapshot is None:
        return UNAVAILABLE
    draft = lifecycle == "draft"
    denials = _DRAFT_CREDENTIALS if draft else _CREDENTIALS

    presented = headers.get(API_KEY_HEADER)
    carrier = API_KEY_HEADER
    if not presented:
        authorization = headers.get(AUTHORIZATION_HEADER)
        presented = bearer_token(authorization) if authorization else None
        if presented is None:
            fingerprint = headers.get(CLIENT_CERT_HEADER)
            if fingerprint:
                return _certificate_caller(fingerprint, route, snapshot, now, draft)
            return denials.missing
        carrier = AUTHORIZATION_HEADER
        key_id = key_id_of(presented)
        if key_id is None and route.token_policies:
            return _token_caller(headers, route, snapshot, draft)
    else:
        key_id = key_id_of(presented)
    # Real keys are ASCII; anything else cannot match, and must not reach .encode().
    if key_id is None or not presented.isascii():
        return denials.invalid
    stored = snapshot.credential(key_id)
    if stored is None or not _compare(stored[:HASH_LENGTH], hash_key(presented)):
        return denials.invalid
    application_id, expires_at, revoked_at = _unpack_tail(stored, HASH_LENGTH)
    # A revocation may be scheduled: rotation keeps the old key working until then.
    if revoked_at and now >= revoked_at:
        return denials.revoked
    if expires_at and now >= expires_at:
        return denials.expired
    return _allowance(
        snapshot, application_id, route, carrier=carrier, draft=draft, unusable=denials.invalid
    )


def _allowance(
    snapshot: Snapshot,
    application_id: int,
    route: RouteContext,
    *,
    carrier: str,
    draft: bool,
    unusable: Denial,
    token_scopes: list[str] | None = None,
) -> Denial | Allowance:
    """The allowance of an identified application on this route's API, or why not.

    A route that requires scopes needs them from the token (`token_scopes`, a token caller),
    else from the plan of the application's subscription (a key or a certificate)."""
    application = snapshot.application(application_id)
    if application is None:
        # The credential's application is gone (deleted, or not streamed yet): unusable.
        return unusable
    if draft and application.organization_id != route.owner:
        return UNKNOWN_API

    api_id = route.api
    required = route.scopes
    if required:
        grant = application.grants.get(api_id)
        if grant is not None:
            missing = missing_scope(required, grant[2] if token_scopes is None else token_scopes)
            if missing:
                return answers.insufficient_scope(missing)
    cache_key = (application_id, api_id, carrier)
    cached = snapshot.allowed.get(cache_key)
    if cached is not None:
        return cached
    grant = application.grants.get(api_id)
    if grant is None:
        refusal = answers.not_subscribed(application_id=application_id, api_id=api_id)
        snapshot.allowed[cache_key] = refusal
        return refusal
    plan, subscription_id, _scopes = grant
    answer = answers.allowance(
        application_id=application_id,
        public_id=application.public_id,
        consumer_id=application.consumer_id,
        plan=plan,
        subscription_id=subscription_id,
        api_id=api_id,
        carrier=carrier,
    )
    snapshot.allowed[cache_key] = answer
    return answer


def _token_caller(  # noqa: PLR0911 (one return per refusal, in order)
    headers: Mapping[str, str],
    route: RouteContext,
    snapshot: Snapshot,
    draft: bool,
) -> Denial | Allowance:
    """A bearer token: jwt_authn verified its signature, times, issuer and audience (and
    then set the claim headers), or said why not (the error header)."""
    issuer = headers.get(TOKEN_ISSUER_HEADER)
    if not issuer:
        if draft:
            return UNKNOWN_API
        reason = headers.get(TOKEN_ERROR_HEADER, "")
        if reason and reason != _JWT_MISSING:
            return answers.invalid_token(reason)
        return INVALID
    policy = route.token_policies.get(issuer)
    if policy is None:  # verified by a provider this route's API does not list
        return UNKNOWN_API if draft else answers.invalid_token(_ISSUER_NOT_ACCEPTED)
    broken = header_error(
        headers.get(TOKEN_ALG_HEADER, ""), headers.get(TOKEN_KID_HEADER, ""), policy
    )
    if broken:
        return UNKNOWN_API if draft else answers.invalid_token(broken)
    client = ""
    for name in TOKEN_CLIENT_HEADERS[: policy.client_headers]:
        client = headers.get(name, "")
        if client:
            break
    if not client:
        return UNKNOWN_API if draft else answers.invalid_token(_NO_CLIENT)
    stored = snapshot.credential(token_client_id(issuer, client))
    if stored is None:
        return UNKNOWN_API if draft else _UNREGISTERED_CLIENT
    application_id, _, revoked_at = _unpack_tail(stored, 0)
    if revoked_at:
        return UNKNOWN_API if draft else _REVOKED_CLIENT
    return _allowance(
        snapshot,
        application_id,
        route,
        carrier=AUTHORIZATION_HEADER,
        draft=draft,
        unusable=INVALID,
        token_scopes=headers.get(TOKEN_SCOPE_HEADER, "").split(),
    )


def _certificate_caller(
    fingerprint: str,
    route: RouteContext,
    snapshot: Snapshot,
    now: float,
    draft: bool,
) -> Denial | Allowance:
    """The TLS client certificate Envoy verified at the handshake, by its fingerprint."""
    stored = snapshot.credential(certificate_id(fingerprint))
    if stored is None:
        return UNKNOWN_API if draft else _UNKNOWN_CERTIFICATE
    application_id, expires_at, revoked_at = _unpack_tail(stored, 0)
    if revoked_at and now >= revoked_at:
        return UNKNOWN_API if draft else _REVOKED_CERTIFICATE
    if expires_at and now >= expires_at:
        return UNKNOWN_API if draft else _EXPIRED_CERTIFICATE
    return _allowance(
        snapshot,
        application_id,
        route,
        carrier=CLIENT_CERT_HEADER,
        draft=draft,
        unusable=_UNKNOWN_CERTIFICATE,
    )


# jwt_authn's failure status when the request carried no token it could extract.
_JWT_MISSING: Final = "Jwt is missing"
_ISSUER_NOT_ACCEPTED: Final = "this API does not accept tokens of the token's issuer"
_NO_CLIENT: Final = "the token names no client (none of its issuer's client claims)"
_UNREGISTERED_CLIENT: Final = answers.denial(problems.UNREGISTERED_TOKEN_CLIENT)
_REVOKED_CLIENT: Final = answers.denial(problems.REVOKED_TOKEN_CLIENT)
_UNKNOWN_CERTIFICATE: Final = answers.denial(problems.UNKNOWN_CERTIFICATE)
_REVOKED_CERTIFICATE: Final = answers.denial(problems.REVOKED_CERTIFICATE)
_EXPIRED_CERTIFICATE: Final = answers.denial(problems.EXPIRED_CERTIFICATE)

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
from extauthz.keys import KEY_ID_LENGTH, PREFIX, hash_key, key_id_of
from extauthz.route_context import RouteContext
from extauthz.store import CREDENTIAL_TAIL, HASH_LENGTH, Store

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


def presented_key_id(headers: Mapping[str, str]) -> str:
    """The visible key id of the key an allowed request presented (decide checked it): what
    the access log records, never the secret."""
    presented = headers.get(API_KEY_HEADER)
    if not presented:
        presented = bearer_token(headers.get(AUTHORIZATION_HEADER, "")) or ""
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
    a draft of another organisation 404; no subscription 403; else the caller's allowance.
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
            return denials.missing
        carrier = AUTHORIZATION_HEADER

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
    application = snapshot.application(application_id)
    if application is None:
        # The key's application is gone (deleted, or not streamed yet): the key is unusable.
        return denials.invalid
    if draft and application.organization_id != route.owner:
        return UNKNOWN_API

    api_id = route.api
    cache_key = (application_id, api_id, carrier)
    cached = snapshot.allowed.get(cache_key)
    if cached is not None:
        return cached
    grant = application.grants.get(api_id)
    if grant is None:
        refusal = answers.not_subscribed(application_id=application_id, api_id=api_id)
        snapshot.allowed[cache_key] = refusal
        return refusal
    plan, subscription_id = grant
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

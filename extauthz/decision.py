"""The Check decision: request headers and route context in, a serialized CheckResponse out.

Pure and total: no I/O, no clock (`now` is passed in), no exception for any input.
Every answer is prebuilt bytes; the key is never logged nor echoed.
"""

import hmac
from collections.abc import Mapping
from typing import Final

from extauthz import problems, responses
from extauthz.keys import hash_key, key_id_of
from extauthz.store import CREDENTIAL_TAIL, HASH_LENGTH, Store

API_KEY_HEADER: Final = "x-api-key"
AUTHORIZATION_HEADER: Final = "authorization"

_DENIED: Final = responses.DENIED
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


def bearer_token(value: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (scheme case-insensitive)."""
    scheme, _, token = value.partition(" ")
    if len(scheme) != 6 or scheme.lower() != "bearer":
        return None
    return token.strip(" ") or None


# One return per outcome, in the documented order: a flat table reads best here.
def decide(  # noqa: PLR0911, PLR0912
    headers: Mapping[str, str],
    context_extensions: Mapping[str, str],
    store: Store,
    now: float,
) -> bytes:
    """Decide one Check. `headers` use Envoy's lower-case names."""
    api_id = context_extensions.get("api")
    if not api_id:
        return UNKNOWN_API
    snapshot = store.snapshot
    if snapshot is None:
        return UNAVAILABLE

    presented = headers.get(API_KEY_HEADER)
    carrier = API_KEY_HEADER
    if not presented:
        authorization = headers.get(AUTHORIZATION_HEADER)
        presented = bearer_token(authorization) if authorization else None
        if presented is None:
            return MISSING
        carrier = AUTHORIZATION_HEADER

    key_id = key_id_of(presented)
    # Real keys are ASCII; anything else cannot match, and must not reach .encode().
    if key_id is None or not presented.isascii():
        return INVALID
    stored = snapshot.credential(key_id)
    if stored is None or not _compare(stored[:HASH_LENGTH], hash_key(presented)):
        return INVALID
    application_id, expires_at, revoked_at = _unpack_tail(stored, HASH_LENGTH)
    # A revocation may be scheduled: rotation keeps the old key working until then.
    if revoked_at and now >= revoked_at:
        return REVOKED
    if expires_at and now >= expires_at:
        return EXPIRED
    application = snapshot.application(application_id)
    if application is None:
        # The key's application is gone (deleted, or not streamed yet): the key is unusable.
        return INVALID

    lifecycle = context_extensions.get("lifecycle")
    if lifecycle == "retired":
        return RETIRED
    # A draft is visible to its owner only; to anyone else it does not exist.
    if lifecycle == "draft" and application.organization_id != context_extensions.get("owner"):
        return UNKNOWN_API

    cache_key = (application_id, api_id, carrier)
    cached = snapshot.allowed.get(cache_key)
    if cached is not None:
        return cached
    grant = application.grants.get(api_id)
    if grant is None:
        return NOT_SUBSCRIBED
    plan, subscription_id = grant
    answer = responses.allowed(
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

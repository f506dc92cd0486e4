"""The authorization server's HTTP face: the token endpoint (RFC 6749 §3.2, §4.4), the
JWKS, and the RFC 8414 metadata. Thin: parsing, the grant and the key schedule live in
token_request, grant and signing_keys."""

import json
import logging
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET

from mgmt.oauth import client_auth, signing_keys, throttle
from mgmt.oauth.errors import INVALID_REQUEST, OAuthError
from mgmt.oauth.grant import grant
from mgmt.oauth.token_request import CLIENT_CREDENTIALS, parse_token_request
from mgmt.tls.sealing_key import NoSealingKey
from xds_server.sealing import SealingError

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 4096
# RFC 6749 §5.1: no cache on the way may keep a token, nor an answer about one.
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _json(body: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body), status=status, content_type="application/json; charset=utf-8"
    )
    for name, value in {**_NO_STORE, **headers}.items():
        response[name] = value
    return response


def _error(error: str, description: str, status: int, **headers: str) -> HttpResponse:
    return _json({"error": error, "error_description": description}, status, **headers)


def _oauth_error(exc: OAuthError) -> HttpResponse:
    headers = {"WWW-Authenticate": 'Basic realm="tollgate"'} if exc.status == 401 else {}
    return _error(exc.error, exc.description, exc.status, **headers)


def _throttled(wait: int) -> HttpResponse:
    # RFC 6749 registers no code for this; slow_down (RFC 8628 §3.5) says what to do.
    return _error(
        "slow_down",
        f"too many token requests: retry in {wait} s",
        429,
        **{"Retry-After": str(wait)},
    )


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """What refuses a request before its body is read: the method, the address's budget,
    the size."""
    if request.method != "POST":
        return _error(INVALID_REQUEST, "the token endpoint takes POST", 405, Allow="POST")
    wait = throttle.spend(request, throttle.AddressThrottle())
    if wait is not None:
        return _throttled(wait)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_BODY_BYTES + 1
    if length > MAX_BODY_BYTES:
        return _error(INVALID_REQUEST, f"the body exceeds {MAX_BODY_BYTES} bytes", 413)
    return None


@csrf_exempt
@sensitive_post_parameters("client_secret")
def token(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    try:
        parsed = parse_token_request(
            request.headers.get("Authorization"), request.META.get("CONTENT_TYPE", ""), request.body
        )
        issued = grant(parsed, timezone.now())
        # Spent once the client has proved who it is: a stranger naming a client id must not
        # use up that client's budget (failed attempts spend the address's).
        wait = throttle.spend(request, throttle.ClientThrottle(parsed.client.client_id))
        if wait is not None:
            return _throttled(wait)
    except OAuthError as exc:
        return _oauth_error(exc)
    except (NoSealingKey, SealingError, signing_keys.NoSigningKey):
        log.exception("the authorization server cannot sign tokens")
        return _error("temporarily_unavailable", "tokens cannot be signed now", 503)
    return _json(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            # RFC 6749 §5.1: present when it says something.
            **({"scope": issued.scope} if issued.scope else {}),
        }
    )


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    # Publishes what exists, never makes a key: an anonymous GET must not change the gateway.
    now = timezone.now()
    response = HttpResponse(
        signing_keys.jwks_json(now), content_type="application/jwk-set+json; charset=utf-8"
    )
    response["Cache-Control"] = "max-age=60"
    return response


def metadata_document() -> dict[str, Any]:
    """RFC 8414 §2, only what is true: a token endpoint for one grant, no authorization
    endpoint (so no response types), secrets by Basic or in the body."""
    base = settings.TOLLGATE_PUBLIC_URL.rstrip("/")
    return {
        "issuer": settings.TOLLGATE_OAUTH_ISSUER,
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/oauth/jwks.json",
        "grant_types_supported": [CLIENT_CREDENTIALS],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": [client_auth.BASIC, client_auth.POST],
    }


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(json.dumps(metadata_document()), content_type="application/json")
    response["Cache-Control"] = "max-age=60"
    return response

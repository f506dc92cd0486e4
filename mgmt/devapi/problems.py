"""Every refusal of the developer API as RFC 9457 problem+json, with the fields to blame.

The services raise mgmt.developers.errors; DRF raises its own exceptions for parsing,
authentication, throttling and serializer validation. Both are translated here, the one
place that knows HTTP statuses, so a client sees one shape for every 4xx."""

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.developers import errors

TYPE_BASE: Final = "https://tollgate.dev/problems/"
MEDIA_TYPE: Final = "application/problem+json"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "payload_too_large"


# (status, problem type, title) for each service error; the first match wins.
_SERVICE_ERRORS: Final[tuple[tuple[type[errors.DeveloperError], int, str, str], ...]] = (
    (errors.InvalidInput, 400, "invalid-input", "The request has invalid fields"),
    (errors.BadCredentials, 401, "bad-credentials", "The credentials are not valid"),
    (errors.EmailNotVerified, 403, "email-not-verified", "The email address is not verified"),
    (errors.NotPermitted, 403, "forbidden", "Your role does not allow this"),
    (errors.NotFound, 404, "not-found", "Not found"),
    (errors.DeveloperError, 400, "refused", "The request was refused"),
)

# DRF's own exceptions, by class; APIException itself is the fallback.
_DRF_ERRORS: Final[tuple[tuple[type[exceptions.APIException], str, str], ...]] = (
    (exceptions.ValidationError, "invalid-input", "The request has invalid fields"),
    (exceptions.ParseError, "malformed-body", "The request body is not valid JSON"),
    (exceptions.NotAuthenticated, "unauthenticated", "Authentication is required"),
    (exceptions.AuthenticationFailed, "bad-credentials", "The credentials are not valid"),
    (exceptions.PermissionDenied, "forbidden", "Not allowed"),
    (exceptions.NotFound, "not-found", "Not found"),
    (exceptions.MethodNotAllowed, "method-not-allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not-acceptable", "No acceptable representation"),
    (exceptions.UnsupportedMediaType, "unsupported-media-type", "Send application/json"),
    (exceptions.Throttled, "too-many-requests", "Too many requests"),
    (PayloadTooLarge, "payload-too-large", "The request body is too large"),
)


def field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail flattened to dotted paths: {"windows.0.unit": [...]}."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            # Errors of the object itself belong to its own path (the body at the top).
            inner = prefix if key == "non_field_errors" else f"{prefix}{key}."
            for path, messages in field_errors(value, inner).items():
                flat.setdefault(path, []).extend(messages)
        return flat
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        if all(isinstance(item, str) for item in detail):
            return {prefix.rstrip(".") or "body": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            for path, messages in field_errors(item, f"{prefix}{index}.").items():
                flat.setdefault(path, []).extend(messages)
        return flat
    return {prefix.rstrip(".") or "body": [str(detail)]}


def problem(
    request: Request | None,
    status_code: int,
    kind: str,
    title: str,
    detail: str,
    *,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind,
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.path
    if fields:
        body["errors"] = fields
    return Response(body, status=status_code, headers=headers, content_type=MEDIA_TYPE)


def _from_service(exc: errors.DeveloperError, request: Request | None) -> Response:
    for cls, code, kind, title in _SERVICE_ERRORS:
        if isinstance(exc, cls):
            fields = exc.errors if isinstance(exc, errors.InvalidInput) else None
            return problem(request, code, kind, title, exc.detail, fields=fields)
    raise AssertionError("unreachable: DeveloperError is the last row")


def _from_drf(exc: exceptions.APIException, request: Request | None) -> Response:
    kind, title = "error", "The request was refused"
    for cls, name, words in _DRF_ERRORS:
        if isinstance(exc, cls):
            kind, title = name, words
            break
    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None)  # a Throttled's seconds until the next allowed call
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    if isinstance(exc, exceptions.ValidationError):
        fields = field_errors(exc.detail)
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        return problem(
            request, exc.status_code, kind, title, detail, fields=fields, headers=headers
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem(request, exc.status_code, kind, title, detail, headers=headers)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """REST_FRAMEWORK's EXCEPTION_HANDLER. None (a 500 Django logs) only for real bugs."""
    request = context.get("request")
    if isinstance(exc, errors.DeveloperError):
        return _from_service(exc, request)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    response = _from_drf(exc, request)
    # APIView has set the challenge (or turned the 401 into a 403 when there is none).
    challenge = getattr(exc, "auth_header", None)
    if challenge:
        response["WWW-Authenticate"] = challenge
    return response

"""API reference pages: a version's OpenAPI document rendered by the Redoc bundle that
drf-spectacular-sidecar ships (served from our static files, no CDN)."""

import hashlib
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from mgmt.developers import selectors
from mgmt.developers.openapi_document import OpenApiDocumentError, parse_openapi_document
from mgmt.portal.guards import allow_methods, member_page

# Parsing validates the whole document, which takes long for a large one; the parsed form
# is kept by content, so an owner's new upload is seen at once.
_PARSED_FOR_SECONDS = 3600


def _parsed(text: str) -> dict[str, Any]:
    key = (
        "tollgate:portal-openapi:"
        + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    )
    document: dict[str, Any] | None = cache.get(key)
    if document is None:
        document = parse_openapi_document(text)
        cache.set(key, document, _PARSED_FOR_SECONDS)
    return document


@member_page
def docs(request: HttpRequest, api_slug: str, version: str) -> HttpResponse:
    api_version = selectors.visible_version(api_slug, version)
    allow_methods(request, "GET", "HEAD")
    return render(request, "portal/docs.html", {"api_version": api_version})


@member_page
def openapi_document(request: HttpRequest, api_slug: str, version: str) -> HttpResponse:
    api_version = selectors.visible_version(api_slug, version)
    allow_methods(request, "GET", "HEAD")
    if not api_version.openapi_document:
        return JsonResponse({"detail": "this version has no OpenAPI document"}, status=404)
    try:
        document = _parsed(api_version.openapi_document)
    except OpenApiDocumentError as error:
        # Stored documents were checked on upload; one failing now met a stricter checker.
        return JsonResponse({"detail": f"this document cannot be shown: {error}"}, status=404)
    return JsonResponse(document)

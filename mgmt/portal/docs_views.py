"""API reference pages: a version's OpenAPI document rendered by the Redoc bundle that
drf-spectacular-sidecar ships (served from our static files, no CDN)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from mgmt.developers import selectors
from mgmt.developers.errors import NotFound
from mgmt.portal.guards import allow_methods, member_page


@member_page
def docs(request: HttpRequest, api_slug: str, version: str) -> HttpResponse:
    api_version = selectors.visible_version(api_slug, version)
    allow_methods(request, "GET", "HEAD")
    return render(request, "portal/docs.html", {"api_version": api_version})


@member_page
def openapi_document(request: HttpRequest, api_slug: str, version: str) -> HttpResponse:
    api_version = selectors.visible_version(api_slug, version)
    allow_methods(request, "GET", "HEAD")
    try:
        document = selectors.openapi_document_of(api_version)
    except NotFound as error:
        return JsonResponse({"detail": error.detail}, status=404)
    return JsonResponse(document)

"""A path under /api/v1/ that names no endpoint: 404 problem+json, like every other 4xx."""

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def unknown_path(request: Request) -> HttpResponse:
    raise NotFound("no such endpoint in the developer API; see /api/v1/docs")

"""What every view shares: the documented problem responses, paging, and the caller's
membership, through which every object is reached."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mgmt.devapi import config_version
from mgmt.devapi.pagination import Pagination
from mgmt.devapi.problems import MEDIA_TYPE
from mgmt.developers import selectors
from mgmt.developers.roles import Action
from mgmt.gateway import publishing
from mgmt.gateway.models import Application, Membership


class ProblemOutput(serializers.Serializer[Any]):
    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field (dotted path) to what is wrong with it.",
    )


def _problem(words: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemOutput, description=words + " (application/problem+json)")


PROBLEMS: dict[int, OpenApiResponse] = {
    400: _problem("Invalid input, with field errors"),
    401: _problem("No valid credentials"),
    403: _problem("Your role does not allow this, or CSRF failed"),
    404: _problem("Not found, or not yours"),
    413: _problem("The body is too large"),
    429: _problem("Too many requests; see Retry-After"),
}


def documented(
    summary: str, description: str, request: Any = None, responses: Any = None, **more: Any
) -> Callable[[Any], Any]:
    """extend_schema with the problem responses every endpoint can give, documented with
    the media type they are sent as."""
    answers: dict[Any, Any] = {(code, MEDIA_TYPE): r for code, r in PROBLEMS.items()}
    answers.update(responses if isinstance(responses, dict) else {200: responses})
    return extend_schema(
        summary=summary, description=description, request=request, responses=answers, **more
    )


def valid(serializer: type, request: Request) -> dict[str, Any]:
    """The body, checked by `serializer`; a ValidationError (400 with fields) otherwise."""
    given = serializer(data=request.data)
    given.is_valid(raise_exception=True)
    return dict(given.validated_data)


def page(view: APIView, request: Request, rows: QuerySet[Any], output: type) -> Response:
    """One page of `rows`, in the {count, next, previous, results} envelope."""
    paginator = Pagination()
    chosen = paginator.paginate_queryset(rows, request, view=view) or []
    return paginator.get_paginated_response(output(chosen, many=True).data)


def user_of(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated has run
    return user


def write_action(request: Request, action: Action) -> Action:
    """Reads need READ; anything else needs `action`."""
    return Action.READ if request.method in ("GET", "HEAD", "OPTIONS") else action


def member_of(request: Request, org: str, action: Action = Action.READ) -> Membership:
    return selectors.membership(user_of(request), org, action)


def application_of(request: Request, org: str, public_id: str) -> Application:
    """The application, if the caller's organization owns it and the role allows the method."""
    action = write_action(request, Action.MANAGE_APPLICATIONS)
    return selectors.application_for(user_of(request), org, public_id, action)[1]


def output(serializer: type, row: Model | Any, status: int = 200) -> Response:
    return Response(serializer(row).data, status=status)


class OrgScopedView(APIView):
    """A view under /orgs/{org}/: lists are paged, and a write that changes the gateways'
    configuration says which snapshot holds it (mgmt.devapi.config_version)."""

    pagination_class = Pagination

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with publishing.tracking() as covering:
            response = super().dispatch(request, *args, **kwargs)
        return config_version.answer(request, response, covering)

"""What every signed-in portal page shares: the signed-in user, and the services' refusals
shown as pages (404 for anything outside the caller's organizations, 403 for a short role)."""

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from mgmt.developers.errors import DeveloperError, NotFound, NotPermitted

P = ParamSpec("P")
PortalView = Callable[Concatenate[HttpRequest, P], HttpResponse]


def signed_in_user(request: HttpRequest) -> User:
    """The caller, for views behind `login_required` (this only narrows the type)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user


class _MethodNotAllowed(Exception):
    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


def allow_methods(request: HttpRequest, *allowed: str) -> None:
    """Refuses other methods with 405. Views call it after their scoped look-ups, so a URL
    outside the caller's organizations is 404 whatever the method: no answer differs
    between someone else's object and one that does not exist."""
    if request.method not in allowed:
        raise _MethodNotAllowed(allowed)


def refusal_page(request: HttpRequest, error: DeveloperError) -> HttpResponse:
    if isinstance(error, NotFound):
        status, title = 404, "Not found"
    elif isinstance(error, NotPermitted):
        status, title = 403, "Not allowed"
    else:
        status, title = 400, "That did not work"
    return render(
        request, "portal/refused.html", {"title": title, "detail": error.detail}, status=status
    )


def member_page(view: PortalView[P]) -> PortalView[P]:
    """Login required; a NotFound or NotPermitted from a selector or service becomes its
    page, so views fetch everything through the scoped selectors and never test for it.
    The view checks the method itself, with `allow_methods`, after those look-ups."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DeveloperError as error:
            return refusal_page(request, error)
        except _MethodNotAllowed as refused:
            return HttpResponseNotAllowed(refused.allowed)

    return login_required(guarded)

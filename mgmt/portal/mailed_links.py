"""The pages that mailed links open (email verification, password reset, invitation).

Their secret never travels in a URL: the link holds it in the fragment, which browsers
send to no server and put in no Referer, and the page's script (static/portal/
mailed_link.js) moves it into the form, which POSTs it in the body. Links of the older
shape, with the secret in the path, fail here with a page that says what to do."""

import functools
from collections.abc import Callable
from typing import Concatenate, Literal, ParamSpec

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]
OldLinkKind = Literal["verify", "password-reset", "invitation"]

_NEW_PAGE: dict[OldLinkKind, str] = {
    "verify": "portal:verify",
    "password-reset": "portal:password-reset",
    "invitation": "portal:invitation",
}


# A Referer from these pages names the site and never a path. Not "no-referrer": with it
# the browser sends `Origin: null` on the page's own form POSTs, which Django's CSRF check
# rightly refuses; "strict-origin" keeps the Origin header and drops every path.
REFERRER_POLICY = "strict-origin"


def private_page(view: View[P]) -> View[P]:
    """No path leaves the page in a Referer, and no cache keeps it: its body may hold a
    secret, and an old link's path does."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        # SecurityMiddleware only sets its site-wide policy where a view set none.
        response["Referrer-Policy"] = REFERRER_POLICY
        add_never_cache_headers(response)
        return response

    return wrapped


@private_page
def old_link(request: HttpRequest, kind: OldLinkKind) -> HttpResponse:
    """A link mailed before secrets left URLs. Its route captures nothing, so the secret
    in the path reaches no view argument; the answer is 200 because Django logs the path
    of every 4xx answer (the access log line is redacted by mgmt.log_redaction)."""
    context = {"kind": kind, "new_page": reverse(_NEW_PAGE[kind])}
    return render(request, "portal/old_link.html", context)

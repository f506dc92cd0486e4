"""The signed-in home page: the caller's organizations and their applications."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mgmt.developers import selectors
from mgmt.developers.roles import Action, may
from mgmt.portal.guards import allow_methods, member_page, signed_in_user


@member_page
def dashboard(request: HttpRequest) -> HttpResponse:
    allow_methods(request, "GET", "HEAD")
    organizations = [
        {
            "membership": membership,
            "applications": list(selectors.applications(membership.organization_id)),
            "can_manage": may(membership.role, Action.MANAGE_APPLICATIONS),
        }
        for membership in selectors.memberships_of(signed_in_user(request))
    ]
    return render(request, "portal/dashboard.html", {"organizations": organizations})

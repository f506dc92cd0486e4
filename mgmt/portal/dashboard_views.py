"""The signed-in home page: the caller's organizations, their applications and a summary
of their recent usage."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mgmt.billing.access import sees_billing
from mgmt.developers import selectors
from mgmt.developers.roles import Action, may
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.usage_views import dashboard_summary


@member_page
def dashboard(request: HttpRequest) -> HttpResponse:
    allow_methods(request, "GET", "HEAD")
    organizations = []
    for membership in selectors.memberships_of(signed_in_user(request)):
        applications = list(selectors.applications(membership.organization_id))
        organizations.append(
            {
                "membership": membership,
                "applications": applications,
                "can_manage": may(membership.role, Action.MANAGE_APPLICATIONS),
                "sees_billing": sees_billing(membership.role),
                "usage": dashboard_summary(membership, applications),
            }
        )
    return render(request, "portal/dashboard.html", {"organizations": organizations})

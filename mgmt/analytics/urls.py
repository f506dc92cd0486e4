"""The API owner's analytics pages, under /admin/analytics/ (staff only).

Each view goes through admin's own admin_view: staff only (others are sent to admin's login),
never cached, CSRF-protected like every other admin page.
"""

from django.contrib import admin
from django.urls import URLPattern, path

from mgmt.analytics import dashboard_views

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    path("", admin.site.admin_view(dashboard_views.dashboard), name="dashboard"),
    path("panel", admin.site.admin_view(dashboard_views.panel), name="panel"),
    path("throttled-now", admin.site.admin_view(dashboard_views.throttled), name="throttled-now"),
    path(
        "applications/<id:application_id>/",
        admin.site.admin_view(dashboard_views.application),
        name="application",
    ),
]

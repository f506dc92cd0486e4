"""The API owner's billing reports, under /admin/billing/reports/ (staff only).

Each view goes through admin's own admin_view: staff only (others are sent to admin's login),
never cached, CSRF-protected like every other admin page.
"""

from django.contrib import admin
from django.urls import URLPattern, path

from mgmt.billing import revenue_views

app_name = "billing_reports"

urlpatterns: list[URLPattern] = [
    path("revenue/", admin.site.admin_view(revenue_views.report), name="revenue"),
]

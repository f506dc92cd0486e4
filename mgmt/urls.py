"""URL map: admin for API owners, internal endpoints for xds_server."""

from django.contrib import admin
from django.urls import path

from mgmt.gateway import internal_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("internal/xds/snapshot", internal_views.latest_snapshot, name="xds-snapshot"),
    path("internal/xds/events", internal_views.xds_events, name="xds-events"),
]

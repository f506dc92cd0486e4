"""URL map: admin for API owners, the developer API and portal for partners, internal
endpoints for xds_server."""

from django.contrib import admin
from django.urls import include, path, register_converter
from django.views.generic import RedirectView

from mgmt import metrics_view, path_converters
from mgmt.gateway import internal_views

register_converter(path_converters.IdConverter, "id")
register_converter(path_converters.VersionConverter, "version")

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/", permanent=False)),
    path("admin/analytics/", include("mgmt.analytics.urls")),
    path("admin/billing/reports/", include("mgmt.billing.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mgmt.devapi.urls")),
    path("portal/", include("mgmt.portal.urls")),
    # The OAuth2 authorization server: /oauth/token, /oauth/jwks.json, RFC 8414 metadata.
    path("", include("mgmt.oauth.urls")),
    path("internal/xds/snapshot", internal_views.latest_snapshot, name="xds-snapshot"),
    path("internal/xds/events", internal_views.xds_events, name="xds-events"),
    path("metrics", metrics_view.metrics, name="metrics"),
    path("internal/xds/conditions", internal_views.xds_conditions, name="xds-conditions"),
]

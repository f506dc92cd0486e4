"""The authorization server's endpoints, mounted at the site's root. RFC 8414 §3 puts the
metadata of an issuer with a path (…/oauth) at /.well-known/oauth-authorization-server/oauth;
the bare well-known path answers too, for clients that look there."""

from django.urls import path

from mgmt.oauth import views

urlpatterns = [
    path("oauth/token", views.token, name="oauth-token"),
    path("oauth/jwks.json", views.jwks, name="oauth-jwks"),
    path(".well-known/oauth-authorization-server", views.metadata, name="oauth-metadata"),
    path(".well-known/oauth-authorization-server/oauth", views.metadata),
]

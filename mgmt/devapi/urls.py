"""Routes of the developer API, /api/v1/. Every path under /orgs/{org}/ is reached through
the caller's membership of that organization (mgmt.devapi.views.common)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from mgmt.devapi.views import (
    accounts,
    applications,
    billing,
    catalog,
    members,
    subscriptions,
    usage,
)
from mgmt.devapi.views.fallback import unknown_path
from mgmt.identity import devapi_views as identity_views
from mgmt.oauth import devapi_views as oauth_views

app_name = "devapi"

APP = "orgs/<slug:org>/applications/<slug:app>"
SUBSCRIPTION = f"{APP}/subscriptions/<id:subscription_id>"

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="devapi:schema"), name="docs"),
    path(
        "redoc",
        SpectacularRedocView.as_view(url_name="devapi:schema", template_name="devapi/redoc.html"),
        name="redoc",
    ),
    # accounts
    path("auth/signup", accounts.SignUpView.as_view(), name="signup"),
    path("auth/verify-email", accounts.VerifyEmailView.as_view(), name="verify-email"),
    path(
        "auth/resend-verification",
        accounts.ResendVerificationView.as_view(),
        name="resend-verification",
    ),
    path(
        "auth/password-reset",
        accounts.PasswordResetRequestView.as_view(),
        name="password-reset-request",
    ),
    path(
        "auth/password-reset/confirm",
        accounts.PasswordResetView.as_view(),
        name="password-reset",
    ),
    path("auth/session", accounts.SessionView.as_view(), name="session"),
    path("auth/tokens", accounts.AccessTokenListView.as_view(), name="tokens"),
    path("auth/tokens/<slug:token_id>", accounts.AccessTokenDetailView.as_view(), name="token"),
    path("me", accounts.MeView.as_view(), name="me"),
    path("invitations/accept", accounts.AcceptInvitationView.as_view(), name="accept-invitation"),
    # catalog
    path("catalog/products", catalog.ProductListView.as_view(), name="catalog-products"),
    path(
        "catalog/products/<slug:product>",
        catalog.ProductDetailView.as_view(),
        name="catalog-product",
    ),
    path(
        "catalog/apis/<slug:api>/versions/<version:version>",
        catalog.VersionDetailView.as_view(),
        name="catalog-version",
    ),
    path(
        "catalog/apis/<slug:api>/versions/<version:version>/openapi",
        catalog.VersionOpenApiView.as_view(),
        name="catalog-openapi",
    ),
    # organizations
    path("orgs/<slug:org>", members.OrganizationView.as_view(), name="org"),
    path("orgs/<slug:org>/members", members.MemberListView.as_view(), name="members"),
    path(
        "orgs/<slug:org>/members/<id:member_id>",
        members.MemberDetailView.as_view(),
        name="member",
    ),
    path("orgs/<slug:org>/invitations", members.InvitationListView.as_view(), name="invitations"),
    path(
        "orgs/<slug:org>/invitations/<id:invitation_id>",
        members.InvitationDetailView.as_view(),
        name="invitation",
    ),
    # applications and keys
    path(
        "orgs/<slug:org>/applications",
        applications.ApplicationListView.as_view(),
        name="applications",
    ),
    path(APP, applications.ApplicationDetailView.as_view(), name="application"),
    path(f"{APP}/keys", applications.KeyListView.as_view(), name="keys"),
    path(f"{APP}/keys/<slug:key_id>", applications.KeyDetailView.as_view(), name="key"),
    path(
        f"{APP}/keys/<slug:key_id>/rotate", applications.KeyRotateView.as_view(), name="key-rotate"
    ),
    # client certificates (mTLS) and token clients (mgmt.identity)
    path(
        f"{APP}/client-certificates",
        identity_views.ClientCertificateListView.as_view(),
        name="client-certificates",
    ),
    path(
        f"{APP}/client-certificates/<id:certificate_id>",
        identity_views.ClientCertificateDetailView.as_view(),
        name="client-certificate",
    ),
    path(
        f"{APP}/token-clients", identity_views.TokenClientListView.as_view(), name="token-clients"
    ),
    # the OAuth client of the client credentials grant (mgmt.oauth)
    path(f"{APP}/oauth-client", oauth_views.ClientView.as_view(), name="oauth-client"),
    path(
        f"{APP}/oauth-client/secrets",
        oauth_views.SecretListView.as_view(),
        name="oauth-client-secrets",
    ),
    path(
        f"{APP}/oauth-client/secrets/<slug:secret_id>",
        oauth_views.SecretDetailView.as_view(),
        name="oauth-client-secret",
    ),
    path(
        f"{APP}/oauth-client/secrets/<slug:secret_id>/rotate",
        oauth_views.SecretRotateView.as_view(),
        name="oauth-client-secret-rotate",
    ),
    # subscriptions and limit requests
    path(
        f"{APP}/subscriptions", subscriptions.SubscriptionListView.as_view(), name="subscriptions"
    ),
    path(SUBSCRIPTION, subscriptions.SubscriptionDetailView.as_view(), name="subscription"),
    path(
        f"{SUBSCRIPTION}/limit-requests",
        subscriptions.LimitRequestListView.as_view(),
        name="limit-requests",
    ),
    path(
        f"{SUBSCRIPTION}/limit-requests/<id:request_id>",
        subscriptions.LimitRequestDetailView.as_view(),
        name="limit-request",
    ),
    # usage
    path("orgs/<slug:org>/usage", usage.OrganizationUsageView.as_view(), name="usage"),
    path(f"{APP}/usage", usage.ApplicationUsageView.as_view(), name="application-usage"),
    # invoices (owners and billing members)
    path("orgs/<slug:org>/invoices", billing.InvoiceListView.as_view(), name="invoices"),
    path("orgs/<slug:org>/invoices.csv", billing.InvoiceCsvView.as_view(), name="invoices-csv"),
    path(
        "orgs/<slug:org>/invoices/<slug:invoice>",
        billing.InvoiceDetailView.as_view(),
        name="invoice",
    ),
    # Anything else under /api/v1/ is a problem+json 404, not Django's HTML page.
    # [\s\S] and \Z: a path with a newline in it is unknown too, not Django's HTML 404.
    re_path(r"^[\s\S]*\Z", unknown_path, name="unknown"),
]

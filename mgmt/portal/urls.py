"""Routes of the portal pages, named in the `portal` namespace. The verify, reset and
invitation pages are also in the mails mgmt.developers.accounts sends: they must not move."""

from django.urls import URLPattern, path, re_path

from mgmt.identity import portal_views as identity_portal_views
from mgmt.oauth import portal_views as oauth_portal_views
from mgmt.portal import (
    accounts_views,
    applications_views,
    billing_views,
    catalog_views,
    dashboard_views,
    docs_views,
    invitation_views,
    keys_views,
    mailed_links,
    members_views,
    password_views,
    subscriptions_views,
    usage_views,
)

app_name = "portal"

_APP = "orgs/<slug:org>/applications/<slug:public_id>"
_SUBSCRIPTION = f"{_APP}/subscriptions/<id:subscription_id>"

urlpatterns: list[URLPattern] = [
    path("", dashboard_views.dashboard, name="dashboard"),
    # Accounts
    path("signup", accounts_views.sign_up, name="signup"),
    path("login", accounts_views.log_in, name="login"),
    path("logout", accounts_views.log_out, name="logout"),
    path("verify", accounts_views.verify_email, name="verify"),
    path("resend-verification", accounts_views.resend_verification, name="resend-verification"),
    path("invitations/accept", invitation_views.invitation, name="invitation"),
    path("password-reset", password_views.request_reset, name="password-reset"),
    path("password-reset/confirm", password_views.set_password, name="password-reset-confirm"),
    # Links mailed before secrets left URLs (the secret in the path): a page that says what
    # to do. The patterns capture nothing, so the secret is no view's argument.
    re_path(r"^verify/", mailed_links.old_link, {"kind": "verify"}),
    re_path(r"^invitations/", mailed_links.old_link, {"kind": "invitation"}),
    re_path(r"^password-reset/", mailed_links.old_link, {"kind": "password-reset"}),
    # Catalog and reference
    path("catalog", catalog_views.catalog, name="catalog"),
    path("catalog/<slug:product_slug>", catalog_views.product, name="product"),
    path("catalog/<slug:product_slug>/subscribe", catalog_views.subscribe, name="subscribe"),
    path("docs/<slug:api_slug>/<version:version>", docs_views.docs, name="docs"),
    path(
        "docs/<slug:api_slug>/<version:version>/openapi.json",
        docs_views.openapi_document,
        name="openapi-document",
    ),
    # Applications, keys, subscriptions
    path("orgs/<slug:org>/applications", applications_views.applications, name="applications"),
    path(_APP, applications_views.application, name="application"),
    path(f"{_APP}/edit", applications_views.edit_application, name="edit-application"),
    path(f"{_APP}/delete", applications_views.delete_application, name="delete-application"),
    path(f"{_APP}/keys", keys_views.create_key, name="create-key"),
    path(f"{_APP}/keys/<slug:key_id>/rotate", keys_views.rotate_key, name="rotate-key"),
    path(f"{_APP}/keys/<slug:key_id>/revoke", keys_views.revoke_key, name="revoke-key"),
    # Client certificates (mgmt.identity)
    path(
        f"{_APP}/client-certificates",
        identity_portal_views.register_certificate,
        name="register-client-certificate",
    ),
    path(
        f"{_APP}/client-certificates/<id:certificate_id>/revoke",
        identity_portal_views.revoke_certificate,
        name="revoke-client-certificate",
    ),
    # The OAuth client of the client credentials grant (mgmt.oauth)
    path(f"{_APP}/oauth-client", oauth_portal_views.create_client, name="oauth-create-client"),
    path(
        f"{_APP}/oauth-client/revoke",
        oauth_portal_views.revoke_client,
        name="oauth-revoke-client",
    ),
    path(
        f"{_APP}/oauth-client/secrets/<slug:secret_id>/rotate",
        oauth_portal_views.rotate_secret,
        name="oauth-rotate-secret",
    ),
    path(
        f"{_APP}/oauth-client/secrets/<slug:secret_id>/revoke",
        oauth_portal_views.revoke_secret,
        name="oauth-revoke-secret",
    ),
    path(f"{_APP}/usage", usage_views.usage, name="usage"),
    path(_SUBSCRIPTION, subscriptions_views.subscription, name="subscription"),
    path(f"{_SUBSCRIPTION}/cancel", subscriptions_views.cancel, name="cancel-subscription"),
    path(
        f"{_SUBSCRIPTION}/limit-requests",
        subscriptions_views.request_limits,
        name="request-limits",
    ),
    path(
        f"{_SUBSCRIPTION}/limit-requests/<id:request_id>/withdraw",
        subscriptions_views.withdraw,
        name="withdraw-limit-request",
    ),
    # Members
    path("orgs/<slug:org>/members", members_views.members, name="members"),
    path("orgs/<slug:org>/members/invite", members_views.invite, name="invite"),
    path(
        "orgs/<slug:org>/members/<id:member_id>/role",
        members_views.change_role,
        name="change-role",
    ),
    path(
        "orgs/<slug:org>/members/<id:member_id>/remove",
        members_views.remove_member,
        name="remove-member",
    ),
    path(
        "orgs/<slug:org>/invitations/<id:invitation_id>/revoke",
        members_views.revoke_invitation,
        name="revoke-invitation",
    ),
    # Invoices (owners and billing members)
    path("orgs/<slug:org>/invoices", billing_views.invoices, name="invoices"),
    path("orgs/<slug:org>/invoices/<slug:reference>", billing_views.invoice, name="invoice"),
]

"""The OAuth client section of the portal's application page, as one inclusion tag: the
page's template only names it."""

from typing import Any

from django import template

from mgmt.oauth.models import OAuthClient
from mgmt.oauth.portal_views import RotateSecretForm
from mgmt.oauth.views import metadata_document

register = template.Library()


@register.inclusion_tag("oauth/client_section.html", takes_context=True)
def oauth_client_section(context: Any) -> dict[str, Any]:
    application = context["application"]
    client = (
        OAuthClient.objects.filter(application=application, revoked_at__isnull=True)
        .prefetch_related("secrets")
        .first()
    )
    return {
        "organization": context["organization"],
        "application": application,
        "can_manage": context["can_manage"],
        "csrf_token": context.get("csrf_token"),
        "client": client,
        "secrets": list(client.secrets.all()) if client else [],
        "rotate_form": RotateSecretForm(),
        "token_endpoint": metadata_document()["token_endpoint"],
    }

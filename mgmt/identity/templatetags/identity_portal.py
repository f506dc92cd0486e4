"""The "Client certificates" section of an application's portal page, as one tag, so the
page's own view needs no change: `{% load identity_portal %}{% client_certificates_section %}`."""

from typing import Any

from django import template

from mgmt.identity import selectors
from mgmt.identity.portal_forms import ClientCertificateForm

register = template.Library()


@register.inclusion_tag("identity/client_certificates_section.html", takes_context=True)
def client_certificates_section(context: template.Context) -> dict[str, Any]:
    application = context["application"]
    return {
        "organization": context["organization"],
        "application": application,
        "can_manage": context.get("can_manage", False),
        "certificates": list(selectors.client_certificates(application)),
        "form": ClientCertificateForm(),
        "csrf_token": context.get("csrf_token"),
    }

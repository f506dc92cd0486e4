"""Client certificates on an application's portal page: register one (PEM or fingerprint)
and revoke one. The list itself is a section of the application page
(templatetags/identity_portal.py)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mgmt.developers import selectors as developer_selectors
from mgmt.developers.errors import InvalidInput
from mgmt.developers.roles import Action
from mgmt.identity import selectors, services
from mgmt.identity.portal_forms import ClientCertificateForm
from mgmt.portal import throttle
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.service_errors import show_on_form


@member_page
def register_certificate(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = developer_selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    allow_methods(request, "POST")
    # Each registration is a new snapshot: the same budget as a new key.
    if (wait := throttle.spend_attempt(request, "key_creation")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = ClientCertificateForm(request.POST)
    if form.is_valid():
        try:
            made = services.register_client_certificate(application=found, **form.cleaned_data)
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            messages.success(
                request,
                f"Client certificate {made.fingerprint_hex()} registered: the gateway "
                "knows it within seconds.",
            )
            return redirect("portal:application", org=org, public_id=public_id)
    context = {"organization": membership.organization, "application": found, "form": form}
    return render(request, "identity/client_certificate_refused.html", context, status=400)


@member_page
def revoke_certificate(
    request: HttpRequest, org: str, public_id: str, certificate_id: int
) -> HttpResponse:
    _, found = developer_selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    certificate = selectors.client_certificate(found, certificate_id)
    allow_methods(request, "POST")
    services.revoke_client_certificate(certificate=certificate)
    messages.success(
        request,
        f"Client certificate {certificate} is revoked: the gateway refuses it within seconds.",
    )
    return redirect("portal:application", org=org, public_id=public_id)
